"""ONNX Runtime (package onnxruntime): CPU execution provider, fp32 and int8 (its static quantiser);
CUDA execution provider at fp32 where the installed build has it (onnxruntime-gpu)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from vidsim.features.runtimes.exported import ExportedRuntime, RunFn
from vidsim.features.runtimes.quantise import ONNXRUNTIME_STATIC, Quantiser

CUDA_PROVIDER = "CUDAExecutionProvider"


def available_providers() -> list[str]:
    """The execution providers of the installed onnxruntime build."""
    import onnxruntime as ort

    return list(ort.get_available_providers())


def providers(device: str) -> list[str | tuple[str, dict[str, str]]]:
    """Execution providers for a session on `device` ("cpu", "cuda", "cuda:N")."""
    kind, _, index = device.partition(":")
    if kind == "cuda":
        return [(CUDA_PROVIDER, {"device_id": index or "0"}), "CPUExecutionProvider"]
    return ["CPUExecutionProvider"]


class OnnxRuntime(ExportedRuntime):
    name = "onnxruntime"

    def quantiser(self) -> Quantiser:
        return ONNXRUNTIME_STATIC

    def runs_on(self, device: torch.device) -> bool:
        return device.type == "cpu" or (device.type == "cuda" and self.precision == "fp32"
                                        and CUDA_PROVIDER in available_providers())

    def load(self, path: Path, device: str = "cpu") -> RunFn:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = self.threads
        options.inter_op_num_threads = 1
        options.log_severity_level = 3  # errors only
        # idle intra-op threads sleep rather than spin: the decode thread needs the core between batches
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        session = ort.InferenceSession(str(path), options, providers=providers(device))
        name = session.get_inputs()[0].name  # "frames" in vidsim's exports; given files name their own

        def run(frames: np.ndarray) -> np.ndarray:
            return session.run(None, {name: frames})[0]

        return run
