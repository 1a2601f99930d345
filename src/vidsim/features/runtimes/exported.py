"""Shared part of the runtimes that run an ONNX export of the torch modules (onnxruntime, openvino)."""
from __future__ import annotations

from abc import abstractmethod
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from vidsim.errors import ModelError
from vidsim.features.backbones import Backbone
from vidsim.features.runtimes.base import Runtime
from vidsim.features.runtimes.export import ExportKey, ModelStore, weights_digest
from vidsim.features.runtimes.torch_runtime import torch_region_vectors
from vidsim.features.seeded import seeded_frames

RunFn = Callable[[np.ndarray], np.ndarray]  # uint8 [B, H, W, 3] -> float32 [B, 9, D]
PROBE_FRAMES = 2


class ExportedRuntime(Runtime):
    """Opens one session per input size, from the export of the backbone's current weights.

    Every session is checked once, when opened, against torch fp32 on fixed probe frames: a
    runtime whose region vectors leave `tolerance` is refused (ModelError) rather than used.
    """

    def __init__(self, precision: str = "fp32", model_dir: str | Path | None = None, threads: int | None = None):
        self.precision = precision
        self.store = ModelStore(model_dir)
        self.threads = threads or torch.get_num_threads()
        self._backbone: Backbone | None = None
        self._digest = ""
        self._sessions: dict[tuple[int, int], RunFn] = {}
        self.checks: dict[tuple[int, int], tuple[float, float]] = {}  # size -> (max abs diff, min cosine)

    @abstractmethod
    def load(self, path: Path) -> RunFn:
        """A function running the exported model at `path` (any exception: the file is unusable)."""

    def region_vectors(self, backbone: Backbone, frames: torch.Tensor) -> torch.Tensor:
        if frames.device.type != "cpu":
            raise ModelError(f"the {self.name} runtime runs on the CPU; use --runtime torch with --device cuda")
        run = self.session(backbone, int(frames.shape[1]), int(frames.shape[2]))
        out = run(np.ascontiguousarray(frames.numpy(), dtype=np.uint8))
        return torch.from_numpy(np.array(out, dtype=np.float32, copy=True))

    def session(self, backbone: Backbone, height: int, width: int) -> RunFn:
        """The checked session for frames of this size (exported or loaded on first use)."""
        if backbone is not self._backbone:  # another module (or the first): weights may differ
            self._backbone, self._digest, self._sessions = backbone, weights_digest(backbone), {}
        run = self._sessions.get((height, width))
        if run is None:
            run = self._sessions[(height, width)] = self._open(backbone, height, width)
        return run

    def _open(self, backbone: Backbone, height: int, width: int) -> RunFn:
        key = ExportKey(backbone.weights_version, self._digest, height, width)
        path, fresh = self.store.get(key, backbone)
        while True:
            try:
                run = self.load(path)
                break
            except Exception as exc:  # runtimes raise their own error types for unreadable models
                if fresh:
                    raise ModelError(f"{self.name} cannot load the model just exported to {path} ({exc})") from exc
                path, fresh = self.store.export(key, backbone), True  # damaged beyond what the checksum saw
        self._check(run, backbone, height, width)
        return run

    def _check(self, run: RunFn, backbone: Backbone, height: int, width: int) -> None:
        probe = seeded_frames(PROBE_FRAMES, size=max(height, width), seed=0)[:, :height, :width]
        with torch.no_grad():
            expected = torch_region_vectors(backbone, torch.from_numpy(np.ascontiguousarray(probe)))
        got = torch.from_numpy(np.asarray(run(np.ascontiguousarray(probe)), dtype=np.float32))
        ok, diff, cosine = self.tolerance.check(got, expected)
        self.checks[(height, width)] = (diff, cosine)
        if not ok:
            raise ModelError(
                f"the {self.name} {self.precision} runtime gives region vectors unlike torch fp32's for "
                f"{backbone.weights_version} (max abs difference {diff:.2e}, min cosine {cosine:.5f}); "
                "use --runtime torch")
