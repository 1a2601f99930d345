"""Peer tools as baseline methods for `vidsim evaluate`: `videohash` and `vpdq`.

Both packages are optional (``pip install 'vidsim[baselines]'``); building a method whose
package is missing raises a VidsimError that names the package and how to install it.

videohash (3.0.1)
    One 64-bit hash per video: frames at 1 fps (ffmpeg, 144x144) laid out as a collage,
    wavelet hash of the collage mixed with the dominant colours of a frame strip.
    Descriptor: the hash as an int. Similarity: ``1 - hamming / 64``.
    Needs the ``ffmpeg`` program on PATH. Its frames go to a private temporary directory
    that is removed after every video.

vpdq (0.2.5, Meta's video PDQ)
    One 256-bit PDQ hash per sampled frame (1 per second by default) with a quality score
    in 0..100. Descriptor: `VpdqDescriptor` (hash bytes, quality, timestamp per frame).
    Similarity follows Meta's brute-force vPDQ matcher (python-threatexchange,
    ``vpdq_brute_matcher.match_VPDQ_hash_brute``): in each video keep the frames of
    quality >= 50 and drop exact duplicate hashes; a frame of one video is matched when
    some kept frame of the other is within Hamming distance 31 (inclusive); the score is
    the share (0..1) of the *query's* kept frames that are matched. Meta calls a pair a
    match at query share >= 80 % with no threshold on the other direction (0 %), so the
    query share alone ranks pairs the way vPDQ decides them; it is asymmetric on purpose
    (a query that is a clip of a long reference scores high). `match_shares` gives both
    directions. If either video keeps no frame the score is 0 (as Meta's C++ matcher).
    Note: Meta's C++ matcher and its older Python one test ``distance < 31``; the current
    python-threatexchange uses ``<= 31``, which is what we use.
"""
from __future__ import annotations

import contextlib
import importlib
import io
import os
import re
import shutil
import tempfile
import warnings
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from vidsim.errors import VideoError, VideoNotFoundError, VidsimError
from vidsim.evaluate.methods import Method, register_method

__all__ = ["VideohashMethod", "VpdqMethod", "VpdqDescriptor"]

_EXTRA_HINT = "pip install 'vidsim[baselines]'"
_VPDQ_BUILD_HINT = (
    "vpdq builds from source: it needs a C++ compiler, cmake, pkg-config and the FFmpeg "
    "development headers (Debian/Ubuntu: apt-get install g++ cmake pkg-config libavcodec-dev "
    "libavformat-dev libavutil-dev libswscale-dev libavdevice-dev libavfilter-dev)"
)


def _import(module: str, package: str, spec: str, method: str, extra: str = ""):
    """Import an optional package or raise a VidsimError saying what to install."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        hint = f"install it with `pip install {spec}` or `{_EXTRA_HINT}`"
        if extra:
            hint += f"; {extra}"
        raise VidsimError(
            f"method {method!r} needs the Python package {package!r}, which is not installed "
            f"or cannot be imported ({exc}); {hint}"
        ) from exc


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def _check_file(path: Path) -> Path:
    path = Path(path)
    if not path.is_file():
        raise VideoNotFoundError(path, "no such file")
    if not os.access(path, os.R_OK):
        raise VideoNotFoundError(path, "file is not readable")
    return path


# --------------------------------------------------------------------------- videohash
def _import_videohash(method: str):
    # videohash 3.0.1 calls Image.ANTIALIAS, which Pillow 10 removed; LANCZOS is the same filter.
    from PIL import Image

    if not hasattr(Image, "ANTIALIAS"):
        Image.ANTIALIAS = Image.LANCZOS  # type: ignore[attr-defined]
    return _import("videohash", "videohash", "videohash==3.0.1", method)


@register_method("videohash")
class VideohashMethod(Method):
    """videohash's 64-bit video hash; similarity ``1 - hamming / 64``.

    Options: ``frame_interval`` (frames per second sampled, videohash's default 1). It runs
    the ``ffmpeg`` found on PATH. Options meant for other methods (evaluate passes the same
    options to each) are ignored and listed in describe().
    """

    bits = 64

    def __init__(self, name: str = "videohash", frame_interval: float = 1, **ignored: Any):
        self.name = name
        self._videohash = _import_videohash(name)
        self.frame_interval = frame_interval
        if shutil.which("ffmpeg") is None:
            raise VidsimError(
                f"method {name!r}: videohash runs the `ffmpeg` program, which is not on PATH; "
                "install FFmpeg (Debian/Ubuntu: apt-get install ffmpeg)"
            )
        self.ignored_options = sorted(ignored)

    def extract(self, path: Path) -> int:
        path = _check_file(path)
        # A private directory per video: videohash copies the video there, writes frames,
        # tiles and a collage; it is removed whatever happens. The input is linked under a
        # plain name so that videohash's shell commands and extension parsing see no odd
        # characters.
        storage = tempfile.mkdtemp(prefix="vidsim-videohash-")
        try:
            suffix = path.suffix if re.fullmatch(r"\.[A-Za-z0-9]{1,8}", path.suffix) else ".video"
            link = os.path.join(storage, "input" + suffix)
            os.symlink(path.resolve(), link)
            work = os.path.join(storage, "work") + os.sep  # videohash wants the trailing separator
            os.mkdir(work)
            try:
                with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
                    # imagedominantcolor calls Image.getdata, deprecated in Pillow 12.
                    warnings.simplefilter("ignore", DeprecationWarning)
                    hasher = self._videohash.VideoHash(
                        path=link, storage_path=work, frame_interval=self.frame_interval
                    )
                    try:
                        value = int(hasher.hash, 2)
                    finally:
                        hasher.delete_storage_path()
            except Exception as exc:  # videohash raises bare exceptions for bad input
                first_line = (str(exc).strip().splitlines() or [""])[0]
                raise VideoError(path, f"videohash failed: {type(exc).__name__}: {first_line}") from exc
        finally:
            shutil.rmtree(storage, ignore_errors=True)
        return value

    def calculate_video_similarity(self, query: int, reference: int) -> float:
        return 1.0 - (int(query) ^ int(reference)).bit_count() / self.bits

    def describe(self) -> dict:
        return {
            "name": self.name,
            "package": "videohash",
            "version": _version("videohash"),
            "bits": self.bits,
            "frame_interval": self.frame_interval,
            "similarity": "1 - hamming/64",
            "ignored_options": self.ignored_options,
        }


# --------------------------------------------------------------------------- vpdq
@dataclass(frozen=True)
class VpdqDescriptor:
    """vPDQ features of one video: one row per sampled frame."""

    hashes: np.ndarray  # (n, 32) uint8, PDQ hash bytes in vpdq's hex order
    quality: np.ndarray  # (n,) int16, 0..100
    timestamps: np.ndarray  # (n,) float64, seconds

    def __len__(self) -> int:
        return len(self.quality)

    def kept(self, quality_threshold: int) -> np.ndarray:
        """Unique hashes of the frames with quality >= threshold, as (k, 32) uint8."""
        rows = self.hashes[self.quality >= quality_threshold]
        if len(rows) == 0:
            return rows.reshape(0, 32)
        return np.unique(rows, axis=0)


_POPCOUNT = np.array([bin(i).count("1") for i in range(256)], dtype=np.uint16)


def _matched(a: np.ndarray, b: np.ndarray, threshold: int, chunk_bytes: int = 1 << 26) -> np.ndarray:
    """For each row of a, whether some row of b is within Hamming distance `threshold`."""
    out = np.zeros(len(a), dtype=bool)
    if len(a) == 0 or len(b) == 0:
        return out
    step = max(1, chunk_bytes // (len(b) * a.shape[1]))
    for start in range(0, len(a), step):
        xor = np.bitwise_xor(a[start:start + step, None, :], b[None, :, :])
        distances = _POPCOUNT[xor].sum(axis=2)
        out[start:start + step] = (distances <= threshold).any(axis=1)
    return out


@register_method("vpdq")
class VpdqMethod(Method):
    """Meta's vPDQ: per-frame PDQ hashes; score = share of query frames matched.

    Options: ``seconds_per_hash`` (1.0; 0 hashes every frame), ``distance_threshold``
    (31, inclusive), ``quality_threshold`` (50), ``downsample_width`` /
    ``downsample_height`` (0: original size), ``thread_count`` (0: automatic). Options meant
    for other methods are ignored and listed in describe().
    """

    def __init__(self, name: str = "vpdq", seconds_per_hash: float = 1.0, distance_threshold: int = 31,
                 quality_threshold: int = 50, downsample_width: int = 0, downsample_height: int = 0,
                 thread_count: int = 0, **ignored: Any):
        self.name = name
        self._vpdq = _import("vpdq", "vpdq", "vpdq==0.2.5", name, extra=_VPDQ_BUILD_HINT)
        if seconds_per_hash < 0:
            raise VidsimError(f"method {name!r}: seconds_per_hash must be >= 0, not {seconds_per_hash}")
        self.seconds_per_hash = float(seconds_per_hash)
        self.distance_threshold = int(distance_threshold)
        self.quality_threshold = int(quality_threshold)
        self.downsample_width = int(downsample_width)
        self.downsample_height = int(downsample_height)
        self.thread_count = int(thread_count)
        self.ignored_options = sorted(ignored)

    def extract(self, path: Path) -> VpdqDescriptor:
        path = _check_file(path)
        try:
            features = self._vpdq.computeHash(
                str(path),
                seconds_per_hash=self.seconds_per_hash,
                verbose=False,
                downsample_width=self.downsample_width,
                downsample_height=self.downsample_height,
                thread_count=self.thread_count,
            )
        except Exception as exc:  # vpdq raises a bare Exception("Fail to create VPDQ hash")
            raise VideoError(path, f"vpdq could not hash the video: {exc}") from exc
        if not features:
            raise VideoError(path, "vpdq produced no frame hashes")
        return VpdqDescriptor(
            hashes=np.array([np.frombuffer(bytes.fromhex(f.hex), dtype=np.uint8) for f in features]),
            quality=np.array([f.quality for f in features], dtype=np.int16),
            timestamps=np.array([f.timestamp for f in features], dtype=np.float64),
        )

    def match_shares(self, query: VpdqDescriptor, reference: VpdqDescriptor) -> tuple[float, float]:
        """(share of the query's kept frames matched in the reference, and the converse)."""
        q = query.kept(self.quality_threshold)
        r = reference.kept(self.quality_threshold)
        if len(q) == 0 or len(r) == 0:
            return 0.0, 0.0
        q_share = float(_matched(q, r, self.distance_threshold).mean())
        r_share = float(_matched(r, q, self.distance_threshold).mean())
        return q_share, r_share

    def calculate_video_similarity(self, query: VpdqDescriptor, reference: VpdqDescriptor) -> float:
        q = query.kept(self.quality_threshold)
        r = reference.kept(self.quality_threshold)
        if len(q) == 0 or len(r) == 0:
            return 0.0
        return float(_matched(q, r, self.distance_threshold).mean())

    def describe(self) -> dict:
        return {
            "name": self.name,
            "package": "vpdq",
            "version": _version("vpdq"),
            "seconds_per_hash": self.seconds_per_hash,
            "distance_threshold": self.distance_threshold,
            "quality_threshold": self.quality_threshold,
            "downsample": [self.downsample_width, self.downsample_height],
            "similarity": "share of query frames (quality >= threshold, unique hashes) "
                          "with a reference frame within the Hamming distance threshold",
            "ignored_options": self.ignored_options,
        }
