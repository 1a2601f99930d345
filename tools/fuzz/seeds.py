"""Seed corpora: small real inputs of each kind (made here, deterministically) and damaged variants."""
from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

# --- decode ------------------------------------------------------------------------------
# (file name, make_clip keyword arguments): tiny clips in the containers and codecs users meet.
_CLIPS: tuple[tuple[str, dict[str, Any]], ...] = (
    ("h264.mp4", dict(codec="libx264", gop=5)),
    ("h264_audio.mkv", dict(codec="libx264", audio=True, seconds=1.0)),
    ("h264_rot90.mp4", dict(codec="libx264", rotation=90)),
    ("h264_vfr.mkv", dict(codec="libx264", vfr=True)),
    ("vp9.webm", dict(codec="libvpx-vp9")),
    ("mpeg4.avi", dict(codec="mpeg4")),
    ("mjpeg.avi", dict(codec="mjpeg", seconds=1.0)),
    ("mpeg2.ts", dict(codec="mpeg2video")),
    ("hevc.mp4", dict(codec="libx265", seconds=1.0)),
)


def _flip(data: bytes, count: int, seed: int) -> bytes:
    """`count` random bytes of `data` XORed with a random non-zero value (past the first 64 bytes)."""
    rng = random.Random(seed)
    out = bytearray(data)
    for _ in range(count):
        i = rng.randrange(min(64, len(out) - 1), len(out))
        out[i] ^= rng.randrange(1, 256)
    return bytes(out)


def decode_seeds(workdir: Path) -> dict[str, bytes]:
    """Real clips (64x48, 2 s, 10 fps unless set) made by vidsim.synth, plus cut and bit-flipped copies."""
    from vidsim import synth

    workdir.mkdir(parents=True, exist_ok=True)
    out: dict[str, bytes] = {}
    for name, options in _CLIPS:
        kw: dict[str, Any] = dict(seconds=2.0, fps=10, size=(64, 48), seed=len(out))
        kw.update(options)
        try:
            out[name] = synth.make_clip(workdir / name, **kw).read_bytes()
        except Exception:  # noqa: BLE001 - an encoder missing from this FFmpeg build: skip its seed
            continue
    for name in list(out)[:4]:
        data = out[name]
        out[f"cut50-{name}"] = data[: len(data) // 2]
        out[f"cut90-{name}"] = data[: len(data) * 9 // 10]
        out[f"flip20-{name}"] = _flip(data, 20, seed=len(data))
    return out


DECODE_TOKENS: tuple[bytes, ...] = (
    b"ftyp", b"moov", b"mvhd", b"trak", b"tkhd", b"mdia", b"mdhd", b"stsd", b"stts", b"stss", b"ctts",
    b"stsc", b"stsz", b"stco", b"co64", b"mdat", b"avc1", b"avcC", b"hvc1", b"edts", b"elst",
    b"\x1a\x45\xdf\xa3", b"\x18\x53\x80\x67", b"\x1f\x43\xb6\x75", b"\xa3", b"RIFF", b"AVI ", b"LIST",
    b"movi", b"idx1", b"\x47\x40\x00\x10", b"\x00\x00\x00\x01", b"\x00\x00\x01\xb3",
)


# --- ground truth --------------------------------------------------------------------------
def groundtruth_seeds(workdir: Path) -> dict[str, bytes]:
    """One small valid file of each ground-truth format vidsim reads."""
    fivr = {"q1": {"ND": ["v1"], "DS": ["v2"], "CS": ["v3"], "IS": ["v4"], "DA": ["v1"]}, "q2": {"ND": ["v2"]}}
    vcsl = {"aa01-bb01": [[0, 10, 20, 30]], "aa01-bb02": [[5, 0, 15, 10, 0.5]], "aa03-bb01": []}
    split = {"train": {"s9": ["aa02-bb03"]}, "test": {"s1": ["aa01-bb01", "aa01-bb02"], "s2": ["aa03-bb01"]}}
    return {
        "vsc_gt.csv": b"query_id,ref_id,query_start,query_end,ref_start,ref_end\n"
                      b"Q1,R1,0.0,10.5,30.0,40.5\nQ1,R2,,,,\nQ2,R1,3.25,8,0,4.75\n",
        "vsc_pred.csv": b"query_id,ref_id,query_start,query_end,ref_start,ref_end,score\nQ1,R1,0,10,30,40,0.9\n",
        "candidates.csv": b"query_id,ref_id,score\nQ1,R1,0.9\nQ2,R1,0.25\n",
        "attributes.csv": b"query_id,transform,source\nQ1,crop,a\nQ2,,b\n",
        "ids.txt": b"v1\nv2\n\nv3\n",
        "fivr.json": json.dumps(fivr).encode(),
        "vcsl_labels.json": json.dumps(vcsl).encode(),
        "vcsl_pairs.csv": b"query_id,reference_id\naa01,bb01\naa01,bb02\n",
        "vcsl_split.json": json.dumps(split).encode(),
    }


GROUNDTRUTH_TOKENS: tuple[bytes, ...] = (
    b"query_id", b"ref_id", b"reference_id", b"query_start", b"query_end", b"ref_start", b"ref_end", b"score",
    b"ND", b"DS", b"CS", b"IS", b"DA", b"test", b"train", b"val", b"-", b",", b'"', b"\n", b"\r\n", b"{", b"}",
    b"[", b"]", b":", b"null", b"true", b"1e999", b"-1", b"NaN", b"Infinity", b"\xef\xbb\xbf", b"[" * 64,
    b'{"a":' * 16,
)


GROUNDTRUTH_KEYS: tuple[str, ...] = ("q1", "v1", "ND", "DS", "CS", "IS", "DA", "test", "train", "all", "s1",
                                     "aa01-bb01", "aa03-bb01")


# --- config.json ---------------------------------------------------------------------------
def config_seeds(workdir: Path) -> dict[str, bytes]:
    """config.json as vidsim writes it for a few index configurations, and a format-1 file."""
    from vidsim.config import DecodeConfig, FeatureConfig, SimilarityConfig, VidsimConfig
    from vidsim.index.config import IndexConfig, SearchConfig, StoredConfig

    configs = {
        "default.json": StoredConfig(IndexConfig(), VidsimConfig(), "0123456789abcdef", 256, "lite0@1"),
        "float16_ivf.json": StoredConfig(
            IndexConfig(codes="float16", code_dims=128, vectors="ivf", ivf_lists=64,
                        search=SearchConfig(candidates=5, window_speed=None)),
            VidsimConfig(decode=DecodeConfig(fps=0.5, strategy="seek"),
                         features=FeatureConfig(dims=128, whitening="none"),
                         similarity=SimilarityConfig(head="visil", head_weights="auto")),
            "fedcba9876543210", 256, "lite0@1"),
    }
    out = {name: stored.to_json().encode() for name, stored in configs.items()}
    old = json.loads(out["default.json"])
    old["format"] = 1
    for name in ("code_projection", "code_bits", "code_seed"):
        old["index"].pop(name)
    out["format1.json"] = json.dumps(old).encode()
    return out


CONFIG_TOKENS: tuple[bytes, ...] = (
    b'"format"', b'"feature_key"', b'"dims"', b'"weights_version"', b'"index"', b'"vidsim"', b'"search"',
    b'"decode"', b'"features"', b'"similarity"', b'"codes"', b'"code_dims"', b'"code_bits"', b'"code_seed"',
    b'"code_projection"', b'"vectors"', b'"binary"', b'"int4"', b'"hnsw"', b'"ivf"', b'"none"', b'"auto"',
    b'"fps"', b'"resize"', b'"crop"', b'"batch_size"', b'"head_weights"', b'"candidates"', b'"window_speed"',
    b"null", b"true", b"false", b"[]", b"{}", b"1e999", b"-1", b"0", b"NaN", b"Infinity", b'"', b",", b":",
    b"[" * 64, b'{"a":' * 16,
)


def _config_keys() -> tuple[str, ...]:
    """Every field name of config.json (sections and dataclass fields)."""
    import dataclasses

    from vidsim.config import DecodeConfig, FeatureConfig, SimilarityConfig
    from vidsim.index.config import IndexConfig, SearchConfig

    names = {"format", "feature_key", "dims", "weights_version", "index", "vidsim", "decode", "features", "similarity"}
    for kind in (DecodeConfig, FeatureConfig, SimilarityConfig, IndexConfig, SearchConfig):
        names |= {f.name for f in dataclasses.fields(kind)}
    return tuple(sorted(names))


CONFIG_KEYS: tuple[str, ...] = _config_keys()


# --- catalog.sqlite --------------------------------------------------------------------------
def catalog_seeds(workdir: Path) -> dict[str, bytes]:
    """A real catalog holding a few videos (one removed), an empty one, and cut copies of the first."""
    from vidsim.index.catalog import Catalog

    workdir.mkdir(parents=True, exist_ok=True)
    out: dict[str, bytes] = {}
    for name, videos in (("catalog3.sqlite", 3), ("empty.sqlite", 0)):
        path = workdir / name
        for suffix in ("", "-wal", "-shm"):
            path.with_name(name + suffix).unlink(missing_ok=True)
        catalog = Catalog(path)
        for i in range(videos):
            digest = f"{i:02d}" + "ab" * 31
            catalog.insert(digest, f"/videos/clip{i}.mp4", f"clip{i}", 4.0 + i, 4 + i,
                           f"codes/{digest[:2]}/{digest}.safetensors", 2304 + i, 100_000 + i)
        if videos:
            catalog.delete(2)
        catalog.checkpoint()
        catalog.close()
        out[name] = path.read_bytes()
    full = out["catalog3.sqlite"]
    out["cut-header.sqlite"] = full[:100]
    out["cut-half.sqlite"] = full[: len(full) // 2]
    out["flip.sqlite"] = _flip(full, 8, seed=1)
    return out


CATALOG_TOKENS: tuple[bytes, ...] = (
    b"SQLite format 3\x00", b"\x0d", b"\x05", b"\x02", b"\x0a", b"\x10\x00", b"\xff\xff", b"\x00\x00\x00\x00",
    b"CREATE TABLE", b"videos", b"removed", b"counters", b"next_vector", b"INTEGER", b"TEXT", b"REAL",
)
