"""The four fuzz targets: each takes the fuzzed bytes as one file and reads it as vidsim does."""
from __future__ import annotations

import atexit
import json
import os
import shutil
import tempfile
import types
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path

import numpy as np
from tools.fuzz import seeds

from vidsim.errors import VidsimError

_SCRATCH: Path | None = None


def scratch() -> Path:
    """One private temporary directory per process, where each input is written (in memory
    when /dev/shm exists: SQLite's fsyncs would otherwise set the pace)."""
    global _SCRATCH
    if _SCRATCH is None:
        shm = "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else None
        _SCRATCH = Path(tempfile.mkdtemp(prefix="vidsim-fuzz-", dir=shm))
        atexit.register(shutil.rmtree, _SCRATCH, True)
    return _SCRATCH


def remove_scratch() -> None:
    """Delete the scratch directory now (a process ending with os._exit runs no atexit hook)."""
    global _SCRATCH
    if _SCRATCH is not None:
        shutil.rmtree(_SCRATCH, ignore_errors=True)
        _SCRATCH = None


def _write(name: str, data: bytes) -> Path:
    path = scratch() / name
    path.write_bytes(data)
    return path


# --- decode: probe + the first sampled frames ---------------------------------------------
FRAME_LIMIT = 12  # samples read per input: enough for the first batches and a seek or two


def fuzz_decode(data: bytes) -> None:
    """vidsim.decode.probe, then iter_frames (both strategies alternately) up to FRAME_LIMIT samples."""
    from vidsim.config import DecodeConfig, DecodeStrategy
    from vidsim.decode import iter_frames, probe

    path = _write("input", data)
    strategy: DecodeStrategy = "seek" if len(data) % 2 else "decode"
    config = DecodeConfig(fps=2.0, resize=32, crop=24, batch_size=4, strategy=strategy, max_pixels=4096 * 4096)
    info = probe(path, max_pixels=config.max_pixels)
    assert info.width >= 0 and info.height >= 0
    batches = iter_frames(path, config)  # a generator: closing it closes the file
    try:
        for batch in islice(batches, FRAME_LIMIT // config.batch_size):
            assert batch.frames.dtype == np.uint8 and batch.frames.ndim == 4
            assert len(batch.frames) == len(batch.timestamps)
    finally:
        batches.close()  # type: ignore[attr-defined]


# --- ground truth: every reader of src/vidsim/evaluate/groundtruth.py ---------------------
_PAIRS_CSV = "query_id,reference_id\naa01,bb01\naa01,bb02\naa03,bb01\n"
_LABELS_JSON = '{"aa01-bb01": [[0, 10, 20, 30]], "aa03-bb01": []}'


def fuzz_groundtruth(data: bytes) -> None:
    """The bytes as each ground-truth file kind in turn (CSV, FIVR JSON, VCSL JSON, id list)."""
    from vidsim.errors import VidsimError
    from vidsim.evaluate import groundtruth as gt

    path = _write("groundtruth", data)
    pairs = scratch() / "pairs.csv"
    labels = scratch() / "labels.json"
    if not pairs.exists():
        pairs.write_text(_PAIRS_CSV)
        labels.write_text(_LABELS_JSON)
    readers: list[Callable[[], object]] = [
        lambda: gt.read_vsc_csv(path, query_ids=["Q1"], ref_ids=["R1"]),
        lambda: gt.read_vsc_predictions(path),
        lambda: gt.read_candidate_pairs(path),
        lambda: gt.read_query_attributes(path),
        lambda: gt.read_id_list(path),
        lambda: gt.read_fivr_annotation(path, "DSVR"),
        lambda: gt.read_fivr_annotation(path, "ISVR", database=["v1", "v2"]),
        lambda: gt.read_fivr_annotation(labels, "CSVR", database=path),
        lambda: gt.read_vcsl_labels(path),
        lambda: gt.read_vcsl_labels(path, pairs),
        lambda: gt.read_vcsl_labels(labels, path),
        lambda: gt.read_vcsl_pair_file(path),
        lambda: gt.read_vcsl_predictions(path),
        lambda: gt.read_vcsl_query_sets(path, "test"),
        lambda: gt.read_vcsl_query_sets(path, "all"),
    ]
    for read in readers:
        try:
            result = read()
        except VidsimError:
            continue
        if isinstance(result, gt.GroundTruth):
            repr(result)
            result.positive_pairs()
            for q in islice(result.query_ids, 3):
                result.restrict([q])


# --- config: an index's config.json ---------------------------------------------------------
def fuzz_config(data: bytes) -> None:
    """StoredConfig.read of the bytes as config.json, then what opening an index does with it;
    and VidsimConfig.from_dict of its "vidsim" section."""
    from vidsim.config import VidsimConfig
    from vidsim.errors import VidsimError
    from vidsim.index.codes import codec_of
    from vidsim.index.config import StoredConfig, config_differences

    path = _write("config.json", data)
    try:
        stored = StoredConfig.read(path)
    except VidsimError:
        stored = None
    if stored is not None:
        _assert_typed(stored, "config")
        try:  # what an index writes, it must read back
            again = StoredConfig.from_json(stored.to_json())
        except VidsimError as exc:
            raise AssertionError(f"a loaded config.json does not read back: {exc}") from exc
        assert again.to_json() == stored.to_json()
        codec_of(stored.index)
        stored.index.codes_label(stored.dims)
        stored.vidsim.feature_key(stored.weights_version)
        config_differences(stored.index.storage(), stored.index.storage())
    try:
        raw = json.loads(data)
    except ValueError:
        return
    if isinstance(raw, dict) and "vidsim" in raw:
        try:
            _assert_typed(VidsimConfig.from_dict(raw["vidsim"]), "vidsim")
        except VidsimError:
            pass


def _assert_typed(config: object, where: str) -> None:
    """Every field of a loaded configuration holds a value of its annotated type: a loader that
    lets `"fps": "fast"` through only moves the crash to the first command that uses it."""
    import dataclasses
    import typing

    hints = typing.get_type_hints(type(config))
    for f in dataclasses.fields(config):  # type: ignore[arg-type]
        value = getattr(config, f.name)
        if dataclasses.is_dataclass(value):
            _assert_typed(value, f"{where}.{f.name}")
            continue
        hint = hints[f.name]
        parts = typing.get_args(hint) if typing.get_origin(hint) in (typing.Union, types.UnionType) else (hint,)
        allowed: list[type] = []
        for part in parts:
            if typing.get_origin(part) is typing.Literal:
                allowed += {type(v) for v in typing.get_args(part)}
            elif isinstance(part, type):
                allowed += [part, int] if part is float else [part]
        ok = any(isinstance(value, kind) and not (isinstance(value, bool) and kind is not bool) for kind in allowed)
        assert ok, f"{where}.{f.name} = {value!r} loaded, but it is typed {hint}"


# --- catalog: an index's catalog.sqlite -------------------------------------------------------
class DamageReported(VidsimError):
    """A sqlite3.DatabaseError (not an OperationalError) out of the catalog: the documented way it
    reports damage, which the index (`damage.open_catalog`) and the CLI turn into one error naming
    `vidsim index repair`; an OperationalError there would read as a machine problem or an
    internal error, so it stays a crash."""


def fuzz_catalog(data: bytes) -> None:
    """The bytes as DIR/catalog.sqlite beside a codes file: open it as an index does
    (`damage.open_catalog`), read every row, add and remove a video; then nothing may keep the
    file open (a leaked connection would lock out the next writer)."""
    import sqlite3

    directory = scratch() / "index"
    codes = directory / "codes" / "ab" / ("ab" * 32 + ".safetensors")
    if not codes.exists():
        codes.parent.mkdir(parents=True)
        codes.write_bytes(b"not read: its presence makes an empty catalog a damaged index")
    path = _write("index/catalog.sqlite", data)
    for suffix in ("-wal", "-shm", "-journal"):
        path.with_name(path.name + suffix).unlink(missing_ok=True)
    try:
        _use_catalog(directory, data)
    except VidsimError:
        raise
    except sqlite3.DatabaseError as exc:
        if isinstance(exc, sqlite3.OperationalError):
            raise
        raise DamageReported(str(exc)) from exc
    finally:
        _assert_closed(path)


def _use_catalog(directory: Path, data: bytes) -> None:
    from vidsim.index.catalog import VectorRanges
    from vidsim.index.damage import open_catalog

    catalog = open_catalog(directory)
    try:
        records = catalog.videos()
        catalog.totals()
        catalog.codes_files()
        catalog.removed_since(2**62)
        catalog.removed_ids()
        catalog.next_ids()
        catalog.integrity()
        catalog.data_version()
        if records:
            catalog.get(records[0].id)
            catalog.by_hash(records[0].content_hash)
        ranges = VectorRanges.of(records)
        ranges.lookup(np.arange(0, 64, dtype=np.int64))
        if catalog.read_only:
            return
        token = data[:16].hex() + str(len(data))
        record = catalog.insert(f"fuzz-{token}", "/videos/fuzz.mp4", "fuzz", 1.5, 3, f"codes/fu/{token}", 10, 20)
        ranges.appended(record)
        catalog.delete(record.id)
        catalog.checkpoint()
    finally:
        catalog.close()


def _assert_closed(path: Path) -> None:
    """No file descriptor of this process may still point at the catalog (or its WAL) once its
    Catalog is closed or failed to open, even while the exception is alive: an SQLite connection
    left open (a cursor kept by a traceback makes close() a deferred one) keeps its locks."""
    fds = Path("/proc/self/fd")
    if not fds.is_dir():
        return
    names = {str(path.with_name(path.name + suffix)) for suffix in ("", "-wal", "-shm", "-journal")}
    still = []
    for fd in fds.iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target in names:
            still.append(target)
    if still:
        raise AssertionError(f"still open after the Catalog was closed: {sorted(still)}")


@dataclass(frozen=True)
class Spec:
    """A target: its function, how to make its seed corpus, libFuzzer dictionary tokens, input size
    cap, and the JSON keys of its formats (non-empty: JSON inputs are also mutated as trees)."""

    name: str
    fn: Callable[[bytes], None]
    make_seeds: Callable[[Path], dict[str, bytes]]
    tokens: tuple[bytes, ...] = field(default=())
    max_len: int = 65536
    json_keys: tuple[str, ...] = field(default=())


TARGETS: dict[str, Spec] = {
    spec.name: spec
    for spec in (
        Spec("decode", fuzz_decode, seeds.decode_seeds, seeds.DECODE_TOKENS, max_len=200_000),
        Spec("groundtruth", fuzz_groundtruth, seeds.groundtruth_seeds, seeds.GROUNDTRUTH_TOKENS, max_len=8192,
             json_keys=seeds.GROUNDTRUTH_KEYS),
        Spec("config", fuzz_config, seeds.config_seeds, seeds.CONFIG_TOKENS, max_len=8192, json_keys=seeds.CONFIG_KEYS),
        Spec("catalog", fuzz_catalog, seeds.catalog_seeds, seeds.CATALOG_TOKENS, max_len=65536),
    )
}
