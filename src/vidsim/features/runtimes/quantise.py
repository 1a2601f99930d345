"""int8 post-training quantisation of the exported models, made at first use into the model cache.

OpenVINO's model is quantised by NNCF (`nncf.quantize`, default preset: symmetric int8 weights per
channel and activations per tensor, fast bias correction; the pooling tail left in f32), ONNX Runtime's by its own static
quantiser (QDQ, int8 weights per channel, uint8 activations, min/max calibration). Both are
calibrated on the same `CalibrationSet` frames. One file set per (export, quantiser and its
version, calibration set), with a manifest of its SHA-256s; a damaged set is quantised again.
"""
from __future__ import annotations

import contextlib
import importlib.metadata
import io
import logging
import os
import shutil
import tempfile
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vidsim.errors import ModelError
from vidsim.features.runtimes.calibration import CalibrationSet
from vidsim.features.runtimes.checked import verified, write_manifest
from vidsim.features.runtimes.export import INPUT


@dataclass(frozen=True)
class Quantiser:
    """How one runtime's int8 model is made from an ONNX export and calibration frames."""

    tool: str  # the distribution that quantises; its version is part of the file's key
    suffixes: tuple[str, ...]  # the files it writes, the first the one a runtime loads
    run: Callable[[Path, np.ndarray, Path], None]  # (export, frames uint8 [N, H, W, 3], output stem)
    recipe: int = 1  # bump when `run` quantises differently with the same tool

    @property
    def version(self) -> str:
        try:
            return importlib.metadata.version(self.tool)
        except importlib.metadata.PackageNotFoundError:
            return "unknown"

    @property
    def label(self) -> str:
        return f"{self.tool}-{self.version}-r{self.recipe}"


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Keep the quantisers' progress bars, notices and warnings off vidsim's output."""
    loggers = [logging.getLogger(name) for name in ("nncf", "onnxruntime")]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.ERROR)
    try:
        with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        for lg, level in zip(loggers, levels):
            lg.setLevel(level)


def _nncf_openvino(export: Path, frames: np.ndarray, out: Path) -> None:
    if not os.environ.get("NNCF_CI"):
        os.environ["NNCF_CI"] = "1"  # NNCF sends usage telemetry unless this is set at import; vidsim sends nothing
    import nncf
    import openvino as ov

    with _quiet():
        model = ov.Core().read_model(str(export))
        dataset = nncf.Dataset([frames[i : i + 1] for i in range(len(frames))])
        # the region pooling and its L2 normalisations stay in f32: quantising their inputs would
        # round the pooled vectors' small components and leave the outputs off unit length
        tail = nncf.IgnoredScope(types=["MaxPool", "ReduceL2", "Divide"], validate=False)
        quantised = nncf.quantize(model, dataset, subset_size=len(frames), ignored_scope=tail)
        ov.save_model(quantised, f"{out}.xml", compress_to_fp16=False)


def _onnxruntime_static(export: Path, frames: np.ndarray, out: Path) -> None:
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    class Frames(CalibrationDataReader):
        def __init__(self) -> None:
            self.at = 0

        def get_next(self) -> dict[str, np.ndarray] | None:
            if self.at >= len(frames):
                return None
            self.at += 1
            return {INPUT: frames[self.at - 1 : self.at]}

    prepared = f"{out}.prepared.onnx"
    with _quiet():
        quant_pre_process(str(export), prepared)  # shape inference and graph clean-up, as ORT recommends
        quantize_static(prepared, f"{out}.onnx", Frames(), quant_format=QuantFormat.QDQ, per_channel=True,
                        activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8)
    Path(prepared).unlink()


NNCF_OPENVINO = Quantiser("nncf", (".xml", ".bin"), _nncf_openvino)
ONNXRUNTIME_STATIC = Quantiser("onnxruntime", (".onnx",), _onnxruntime_static)


class QuantisedStore:
    """`<export stem>-int8-<quantiser>-<version>-c<calibration>` file sets beside the exports."""

    def __init__(self, root: Path, quantiser: Quantiser, calibration: CalibrationSet):
        self.root, self.quantiser, self.calibration = Path(root), quantiser, calibration
        self.quantisations = 0  # models quantised by this store (tests read it)

    def files(self, export: Path) -> tuple[list[Path], Path]:
        stem = f"{export.stem}-int8-{self.quantiser.label}-c{self.calibration.digest[:16]}"
        return [self.root / f"{stem}{s}" for s in self.quantiser.suffixes], self.root / f"{stem}.json"

    def get(self, export: Path, height: int, width: int, rebuild: bool = False) -> tuple[Path, bool]:
        """(the file a runtime loads, whether it was made now); quantised when missing, damaged or `rebuild`."""
        files, manifest = self.files(export)
        if not rebuild and verified(manifest, files):
            return files[0], False
        frames = self.calibration.frames_at(self.root, height, width)
        self.root.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".int8-", dir=self.root))
        try:
            try:
                self.quantiser.run(export, frames, staging / files[0].stem)
            except Exception as exc:  # the quantisers raise many kinds of errors
                raise ModelError(f"cannot quantise {export.name} to int8 with {self.quantiser.label} "
                                 f"({type(exc).__name__}: {exc})") from exc
            for made in reversed(files):  # the file a runtime loads last: never beside a stale partner
                os.replace(staging / made.name, made)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        write_manifest(manifest, files, export=export.name, quantiser=self.quantiser.label,
                       calibration=self.calibration.digest, calibration_frames=len(frames), input=[height, width, 3])
        self.quantisations += 1
        return files[0], True
