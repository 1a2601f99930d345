"""The runtimes vidsim knows, which are installed, and how "auto" chooses among them.

"auto" is deterministic: a fixed order of preference per backbone and precision (fastest first,
as measured on CPUs; see docs/architecture.md), reduced to the runtimes installed and able to run
on the device. The resolved name, not "auto", is what configurations and feature keys record.
"""
from __future__ import annotations

import importlib.util
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from vidsim.errors import ModelError
from vidsim.features.runtimes.base import Runtime


@dataclass(frozen=True)
class RuntimeSpec:
    name: str
    package: str | None  # the module that must import (None: always there)
    precisions: tuple[str, ...]
    cpu_only: bool
    build: Callable[[str, Path | None], Runtime]


def _torch(precision: str, model_dir: Path | None) -> Runtime:
    from vidsim.features.runtimes.torch_runtime import TorchRuntime

    return TorchRuntime(precision)


def _onnxruntime(precision: str, model_dir: Path | None) -> Runtime:
    from vidsim.features.runtimes.onnxrt import OnnxRuntime

    return OnnxRuntime(precision, model_dir)


def _openvino(precision: str, model_dir: Path | None) -> Runtime:
    from vidsim.features.runtimes.openvino_rt import OpenVinoRuntime

    return OpenVinoRuntime(precision, model_dir)


RUNTIMES: dict[str, RuntimeSpec] = {
    "torch": RuntimeSpec("torch", None, ("fp32", "bf16"), False, _torch),
    "onnxruntime": RuntimeSpec("onnxruntime", "onnxruntime", ("fp32",), True, _onnxruntime),
    "openvino": RuntimeSpec("openvino", "openvino", ("fp32", "bf16"), True, _openvino),
}

# Order of preference on the CPU, fastest first (frames/s of network + pooling, 2 threads).
# EfficientNet-Lite's depthwise convolutions run best in ONNX Runtime at fp32; ResNet-50's dense
# ones in OpenVINO, where ONNX Runtime is slower than torch. For bf16, OpenVINO is ahead for both.
PREFERENCE: dict[str, dict[str, tuple[str, ...]]] = {
    "efficientnet": {"fp32": ("onnxruntime", "openvino", "torch"), "bf16": ("openvino", "torch")},
    "resnet50": {"fp32": ("openvino", "torch", "onnxruntime"), "bf16": ("openvino", "torch")},
}
DEFAULT_PREFERENCE: dict[str, tuple[str, ...]] = {"fp32": ("openvino", "onnxruntime", "torch"),
                                                  "bf16": ("openvino", "torch")}


def installed(name: str) -> bool:
    """Whether the runtime's package is importable (looked up without importing it)."""
    package = RUNTIMES[name].package
    return package is None or importlib.util.find_spec(package) is not None


def available_runtimes() -> list[str]:
    """The installed runtimes, in registry order."""
    return [name for name in RUNTIMES if installed(name)]


def preference(backbone: str, precision: str) -> tuple[str, ...]:
    """The runtimes "auto" tries for `backbone` at `precision`, in order."""
    family = next((f for f in PREFERENCE if backbone.startswith(f)), None)
    table = PREFERENCE[family] if family is not None else DEFAULT_PREFERENCE
    return table.get(precision, ("torch",))


def resolve_runtime(runtime: str, backbone: str, precision: str, device: str = "cpu") -> str:
    """The runtime that will run: `runtime` itself when it is installed and can run `precision`
    on `device` (ModelError otherwise, saying what to do), or, for "auto", the first of
    `preference` that can."""
    on_cpu = device.split(":")[0] == "cpu"
    if runtime != "auto":
        spec = RUNTIMES.get(runtime)
        if spec is None:
            raise ModelError(f"unknown runtime {runtime!r}; known: {', '.join(RUNTIMES)}")
        if not installed(runtime):
            raise ModelError(f"the {runtime} runtime is not installed: pip install {spec.package} (a dependency of "
                             "vidsim: see pyproject.toml for the tested version), or use --runtime torch")
        if precision not in spec.precisions:
            raise ModelError(f"the {runtime} runtime runs {', '.join(spec.precisions)}, not {precision}")
        if spec.cpu_only and not on_cpu:
            raise ModelError(f"the {runtime} runtime runs on the CPU; use --runtime torch with --device {device}")
        return runtime
    for name in preference(backbone, precision):
        spec = RUNTIMES[name]
        if precision in spec.precisions and installed(name) and (on_cpu or not spec.cpu_only):
            return name
    return "torch"


def build_runtime(name: str, precision: str, model_dir: str | Path | None = None) -> Runtime:
    """A runtime by its resolved name."""
    return RUNTIMES[name].build(precision, Path(model_dir) if model_dir is not None else None)
