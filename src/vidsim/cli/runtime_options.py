"""The inference options that every feature-extracting command shares (`--precision`, `--runtime`)."""
from __future__ import annotations

from typing import Any, get_args

from vidsim.config import FeatureConfig, Precision, RuntimeName


def runtime_options(group: Any) -> None:
    """--precision and --runtime: every command that extracts features has them, with one meaning."""
    group.add_argument("--precision", choices=get_args(Precision),
                       help="network precision: fp32, bf16 (torch, openvino) or int8 (onnxruntime, openvino: "
                            "post-training quantisation calibrated on the benchmark's dev clips, made at first "
                            f"use) (default: {FeatureConfig.precision})")
    group.add_argument("--runtime", choices=get_args(RuntimeName),
                       help="inference runtime of the backbone: auto (the fastest installed one whose features "
                            "equal torch fp32's within tolerance), torch, onnxruntime or openvino "
                            f"(default: {FeatureConfig.runtime})")
