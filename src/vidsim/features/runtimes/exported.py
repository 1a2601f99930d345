"""Shared part of the runtimes that run an ONNX export of the torch modules (onnxruntime, openvino),
or the ONNX file a backbone is given as (`Backbone.onnx_file`: run as it is, one run per region)."""
from __future__ import annotations

from abc import abstractmethod
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from vidsim.cpus import stage_threads
from vidsim.errors import ModelError
from vidsim.features.backbones import Backbone
from vidsim.features.runtimes import calibration
from vidsim.features.runtimes.base import Runtime
from vidsim.features.runtimes.export import ExportKey, ModelStore, weights_digest
from vidsim.features.runtimes.quantise import QuantisedStore, Quantiser
from vidsim.features.runtimes.torch_runtime import torch_region_vectors
from vidsim.features.seeded import seeded_frames

RunFn = Callable[[np.ndarray], np.ndarray]  # uint8 [B, H, W, 3] -> float32 [B, 9, D]
PROBE_FRAMES = 2


class ExportedRuntime(Runtime):
    """Opens one session per device and input size, from the export of the backbone's current weights
    (int8: from its quantised model, made from the export and the calibration frames).

    Every session is checked once, when opened, against torch fp32 on fixed probe frames (int8: a few
    real calibration frames, as quantisation is only calibrated for those): a runtime whose region
    vectors leave `tolerance` is refused (ModelError) rather than used.
    """

    def __init__(self, precision: str = "fp32", model_dir: str | Path | None = None, threads: int = 0):
        self.precision = precision
        self.store = ModelStore(model_dir)
        self.threads = stage_threads(threads)
        self._backbone: Backbone | None = None
        self._digest = ""
        self._sessions: dict[tuple[str, int, int], RunFn] = {}
        self._given: dict[Path, RunFn] = {}  # sessions of given ONNX files (any input size)
        self.checks: dict[tuple[int, int], tuple[float, float]] = {}  # size -> (max abs diff, min cosine)
        self._quantised: QuantisedStore | None = None
        if precision == "int8":
            self._quantised = QuantisedStore(self.store.root, self.quantiser(), calibration.default_calibration())

    @abstractmethod
    def load(self, path: Path, device: str = "cpu") -> RunFn:
        """A function running the model at `path` on `device` (any exception: the file is unusable)."""

    def quantiser(self) -> Quantiser:
        """What makes this runtime's int8 model."""
        raise ModelError(f"the {self.name} runtime has no int8 quantiser")

    @property
    def quantised(self) -> QuantisedStore | None:
        """The int8 models of an int8 runtime (None at other precisions)."""
        return self._quantised

    @property
    def provenance(self) -> tuple[str, ...]:
        if self._quantised is None:
            return ()
        return (f"int8:{self._quantised.quantiser.label}:calibration-{self._quantised.calibration.digest[:16]}",)

    def runs_on(self, device: torch.device) -> bool:
        """Whether this runtime can take frames on `device` (the exported runtimes: the CPU)."""
        return device.type == "cpu"

    def region_vectors(self, backbone: Backbone, frames: torch.Tensor) -> torch.Tensor:
        if not self.runs_on(frames.device):
            raise ModelError(f"the {self.name} runtime runs on the CPU; use --runtime torch with --device {frames.device}")
        if backbone.onnx_file is not None:
            return self._given_regions(backbone, frames.cpu().numpy()).to(frames.device)
        run = self.session(backbone, int(frames.shape[1]), int(frames.shape[2]), str(frames.device))
        out = run(np.ascontiguousarray(frames.cpu().numpy(), dtype=np.uint8))
        return torch.from_numpy(np.array(out, dtype=np.float32, copy=True)).to(frames.device)

    def session(self, backbone: Backbone, height: int, width: int, device: str = "cpu") -> RunFn:
        """The checked session for frames of this size (exported or loaded on first use)."""
        if backbone is not self._backbone:  # another module (or the first): weights may differ
            self._backbone, self._digest, self._sessions = backbone, weights_digest(backbone), {}
        run = self._sessions.get((device, height, width))
        if run is None:
            run = self._sessions[(device, height, width)] = self._open(backbone, height, width, device)
        return run

    def _model(self, key: ExportKey, backbone: Backbone, rebuild: bool) -> tuple[Path, bool]:
        """(the file to load, whether it was made now): the export, or its int8 model."""
        if self._quantised is None:
            return (self.store.export(key, backbone), True) if rebuild else self.store.get(key, backbone)
        export, _ = self.store.get(key, backbone)
        return self._quantised.get(export, key.height, key.width, rebuild=rebuild)

    def _open(self, backbone: Backbone, height: int, width: int, device: str = "cpu") -> RunFn:
        key = ExportKey(backbone.weights_version, self._digest, height, width)
        path, fresh = self._model(key, backbone, rebuild=False)
        while True:
            try:
                run = self.load(path, device)
                break
            except Exception as exc:  # runtimes raise their own error types for unreadable models
                if fresh:
                    raise ModelError(f"{self.name} cannot load the model just made at {path} ({exc})") from exc
                path, fresh = self._model(key, backbone, rebuild=True)  # damaged beyond what the checksum saw
        self._check(run, backbone, height, width)
        return run

    def _given_regions(self, backbone: Backbone, frames: np.ndarray) -> torch.Tensor:
        """[B, R, D]: the given file's descriptor of each of the backbone's region images."""
        run = self._given.get(backbone.onnx_file)  # type: ignore[arg-type]
        if run is None:
            run = self._given[backbone.onnx_file] = self._open_given(backbone)  # type: ignore[index]
        images = backbone.region_inputs(np.ascontiguousarray(frames, dtype=np.uint8))
        out = np.stack([np.asarray(run(image), dtype=np.float32) for image in images], axis=1)
        return torch.from_numpy(out)

    def _open_given(self, backbone: Backbone) -> RunFn:
        """A session of the backbone's own file, checked for the output it promises on probe frames."""
        path, dims = backbone.onnx_file, sum(backbone.channels)
        try:
            run = self.load(path)  # type: ignore[arg-type]
            out = np.asarray(run(seeded_frames(PROBE_FRAMES, size=64, seed=0)), dtype=np.float32)
        except Exception as exc:  # runtimes raise their own error types for unreadable models
            raise ModelError(f"{path}: {self.name} cannot run this model ({type(exc).__name__}: {exc}); "
                             "reinstall the package that holds it") from exc
        norms = np.linalg.norm(out, axis=-1) if out.ndim == 2 else np.zeros(0)
        if out.shape != (PROBE_FRAMES, dims) or not np.allclose(norms, 1.0, atol=1e-3):
            raise ModelError(f"{path}: gives {out.shape} outputs, not the {dims}-d unit descriptors of "
                             f"{backbone.weights_version}; reinstall the package that holds it")
        return run

    def _probe(self, height: int, width: int) -> np.ndarray:
        if self._quantised is not None:
            return self._quantised.calibration.probe(self.store.root, height, width)
        return np.ascontiguousarray(seeded_frames(PROBE_FRAMES, size=max(height, width), seed=0)[:, :height, :width])

    def _check(self, run: RunFn, backbone: Backbone, height: int, width: int) -> None:
        probe = self._probe(height, width)
        on = next(backbone.parameters()).device
        with torch.no_grad():
            expected = torch_region_vectors(backbone, torch.from_numpy(probe).to(on)).cpu()
        got = torch.from_numpy(np.asarray(run(probe), dtype=np.float32))
        ok, diff, cosine = self.tolerance.check(got, expected)
        self.checks[(height, width)] = (diff, cosine)
        if not ok:
            raise ModelError(
                f"the {self.name} {self.precision} runtime gives region vectors unlike torch fp32's for "
                f"{backbone.weights_version} (max abs difference {diff:.2e}, min cosine {cosine:.5f}); "
                + ("use --precision fp32" if self.precision == "int8" else "use --runtime torch"))
