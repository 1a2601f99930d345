"""The runtimes vidsim knows, which are installed, and how "auto" chooses among them.

"auto" is deterministic: a fixed order of preference per backbone, precision and device (fastest
first, as measured on CPUs; see docs/architecture.md), reduced to the runtimes installed and able to
run on the device. The resolved name, not "auto", is what configurations and feature keys record.
"""
from __future__ import annotations

import importlib.util
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from vidsim.errors import ConfigError, ModelError
from vidsim.features.backbones import backbone_runtimes
from vidsim.features.runtimes.base import Runtime


def _torch(precision: str, model_dir: Path | None, threads: int) -> Runtime:
    from vidsim.features.runtimes.torch_runtime import TorchRuntime

    return TorchRuntime(precision, threads)


def _onnxruntime(precision: str, model_dir: Path | None, threads: int) -> Runtime:
    from vidsim.features.runtimes.onnxrt import OnnxRuntime

    return OnnxRuntime(precision, model_dir, threads)


def _openvino(precision: str, model_dir: Path | None, threads: int) -> Runtime:
    from vidsim.features.runtimes.openvino_rt import OpenVinoRuntime

    return OpenVinoRuntime(precision, model_dir, threads)


def _onnxruntime_has_cuda() -> bool:
    from vidsim.features.runtimes.onnxrt import CUDA_PROVIDER, available_providers

    return CUDA_PROVIDER in available_providers()


@dataclass(frozen=True)
class RuntimeSpec:
    name: str
    package: str | None  # the module that must import (None: always there)
    precisions: tuple[str, ...]
    build: Callable[[str, Path | None, int], Runtime]  # (precision, model_dir, threads; 0: the CPUs available)
    cuda_precisions: tuple[str, ...] = ()  # what it can run on a CUDA device
    cuda_ready: Callable[[], bool] = lambda: True  # whether the installed build has its CUDA path
    cuda_hint: str = ""  # what to install for that path
    needs: tuple[tuple[str, str, str], ...] = ()  # (precision, module, what to install) beyond `package`


RUNTIMES: dict[str, RuntimeSpec] = {
    "torch": RuntimeSpec("torch", None, ("fp32", "bf16"), _torch, cuda_precisions=("fp32", "bf16")),
    "onnxruntime": RuntimeSpec("onnxruntime", "onnxruntime", ("fp32", "int8"), _onnxruntime, cuda_precisions=("fp32",),
                               cuda_ready=_onnxruntime_has_cuda, cuda_hint="onnxruntime-gpu in place of onnxruntime"),
    "openvino": RuntimeSpec("openvino", "openvino", ("fp32", "bf16", "int8"), _openvino,
                            needs=(("int8", "nncf", "vidsim[int8] (nncf)"),)),
}

# Order of preference on the CPU, fastest first (frames/s of network + pooling, 2 threads).
# EfficientNet-Lite's depthwise convolutions run best in ONNX Runtime at fp32; ResNet-50's dense
# ones in OpenVINO, where ONNX Runtime is slower than torch. For bf16, OpenVINO is ahead for both.
# int8 prefers OpenVINO (NNCF): on the benchmark's test split it keeps fp32's mAP, where ONNX
# Runtime's int8 loses 0.0094 (benchmarks/results/runtime_accuracy.md); without the int8 extra,
# "auto" falls back to ONNX Runtime, and the runtime that ran is recorded as always.
INT8_PREFERENCE = ("openvino", "onnxruntime")
PREFERENCE: dict[str, dict[str, tuple[str, ...]]] = {
    "efficientnet": {"fp32": ("onnxruntime", "openvino", "torch"), "bf16": ("openvino", "torch"), "int8": INT8_PREFERENCE},
    "resnet50": {"fp32": ("openvino", "torch", "onnxruntime"), "bf16": ("openvino", "torch"), "int8": INT8_PREFERENCE},
}
DEFAULT_PREFERENCE: dict[str, tuple[str, ...]] = {"fp32": ("openvino", "onnxruntime", "torch"),
                                                  "bf16": ("openvino", "torch"), "int8": INT8_PREFERENCE}
# On a CUDA device: torch, unless the installed ONNX Runtime has its CUDA execution provider (not
# measured here: no GPU was available; see docs/architecture.md).
CUDA_PREFERENCE: dict[str, tuple[str, ...]] = {"fp32": ("onnxruntime", "torch"), "bf16": ("torch",)}


def installed(name: str) -> bool:
    """Whether the runtime's package is importable (looked up without importing it)."""
    package = RUNTIMES[name].package
    return package is None or importlib.util.find_spec(package) is not None


def importable(module: str) -> bool:
    """Whether a module the runtime needs at some precision is there (looked up without importing it)."""
    return importlib.util.find_spec(module) is not None


def available_runtimes() -> list[str]:
    """The installed runtimes, in registry order."""
    return [name for name in RUNTIMES if installed(name)]


def preference(backbone: str, precision: str, device: str = "cpu") -> tuple[str, ...]:
    """The runtimes "auto" tries for `backbone` at `precision` on `device`, in order."""
    if device.split(":")[0] != "cpu":
        return CUDA_PREFERENCE.get(precision, ())
    family = next((f for f in PREFERENCE if backbone.startswith(f)), None)
    table = PREFERENCE[family] if family is not None else DEFAULT_PREFERENCE
    return table.get(precision, ("torch",))


def _missing(spec: RuntimeSpec, precision: str) -> str | None:
    """What the runtime lacks to run `precision` (the install hint), or None."""
    for at, module, hint in spec.needs:
        if at == precision and not importable(module):
            return hint
    return None


def _runs_on(spec: RuntimeSpec, precision: str, on_cpu: bool) -> bool:
    return on_cpu or (precision in spec.cuda_precisions and spec.cuda_ready())


def resolve_runtime(runtime: str, backbone: str, precision: str, device: str = "cpu") -> str:
    """The runtime that will run: `runtime` itself when it can run `precision` on `device` (a
    ConfigError for a pair it does not support, a ModelError for what is not installed, saying what
    to do), or, for "auto", the first of `preference` that can. A backbone registered for some
    runtimes only (an ONNX file given as is, e.g. sscd) refuses the others (ConfigError), runs at
    fp32 on the CPU, and "auto" is the first of its own."""
    on_cpu = device.split(":")[0] == "cpu"
    only = backbone_runtimes(backbone)
    if only is not None:
        if runtime == "auto":
            runtime = only[0]
        elif runtime not in only:
            raise ConfigError(f"the {backbone} backbone is an ONNX model that only {' or '.join(only)} runs, not "
                              f"{runtime}: use --runtime auto")
        if precision != "fp32":
            raise ConfigError(f"the {backbone} backbone runs its ONNX model as installed, not at {precision}: "
                              "use --precision fp32")
        if not installed(runtime):
            raise ModelError(f"the {backbone} backbone needs the {runtime} runtime: pip install {RUNTIMES[runtime].package}")
        if not on_cpu:
            raise ModelError(f"the {backbone} backbone runs on the CPU ({runtime}); use --device cpu")
    if runtime != "auto":
        spec = RUNTIMES.get(runtime)
        if spec is None:
            raise ConfigError(f"unknown runtime {runtime!r}; known: {', '.join(RUNTIMES)}")
        if precision not in spec.precisions:
            others = [name for name, s in RUNTIMES.items() if precision in s.precisions]
            raise ConfigError(f"the {runtime} runtime runs {', '.join(spec.precisions)}, not {precision}"
                              + (f" ({precision}: --runtime {' or '.join(others)})" if others else ""))
        if not installed(runtime):
            raise ModelError(f"the {runtime} runtime is not installed: pip install {spec.package} (a dependency of "
                             "vidsim: see pyproject.toml for the tested version), or use --runtime torch")
        missing = _missing(spec, precision)
        if missing is not None:
            raise ModelError(f"{precision} in the {runtime} runtime needs {missing}, which is not installed: "
                             f"pip install {missing.split(' ')[0]!r} (see pyproject.toml for the tested version)")
        if not on_cpu and precision not in spec.cuda_precisions:
            raise ConfigError(f"the {runtime} runtime runs {precision} on the CPU only; "
                              + ("use --device cpu" if precision == "int8" else f"use --runtime torch with --device {device}"))
        if not on_cpu and not spec.cuda_ready():
            raise ModelError(f"the installed {runtime} has no CUDA support ({spec.cuda_hint} has it); "
                             f"use --runtime torch with --device {device}")
        return runtime
    for name in preference(backbone, precision, device):
        spec = RUNTIMES[name]
        if (precision in spec.precisions and installed(name) and _missing(spec, precision) is None
                and _runs_on(spec, precision, on_cpu)):
            return name
    if precision in RUNTIMES["torch"].precisions and _runs_on(RUNTIMES["torch"], precision, on_cpu):
        return "torch"
    able = [name for name, s in RUNTIMES.items() if precision in s.precisions]
    where = "" if on_cpu else f" on {device}" + (" (int8 runs on the CPU: use --device cpu)" if precision == "int8" else "")
    raise ModelError(f"no installed runtime runs {precision}{where}; {precision} runs in {' or '.join(able)} "
                     "(see pyproject.toml for the tested versions)")


def build_runtime(name: str, precision: str, model_dir: str | Path | None = None, threads: int = 0) -> Runtime:
    """A runtime by its resolved name, running on `threads` threads (0: the CPUs this process may use;
    torch: its own setting)."""
    return RUNTIMES[name].build(precision, Path(model_dir) if model_dir is not None else None, threads)
