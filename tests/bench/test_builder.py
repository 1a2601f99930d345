"""The benchmark builder on tiny generated sources (small mode): deterministic, split by source,
ground truth consistent with the files."""
from __future__ import annotations

import csv
import dataclasses
import hashlib
import json
from pathlib import Path

import av
import numpy as np
import pytest

from vidsim.bench import FULL, SMALL, SPLITS, build_benchmark, needed_clips, read_frames
from vidsim.evaluate.groundtruth import read_vsc_csv
from vidsim.synth import make_clip


def _write_clip(path: Path, seconds: float, seed: int, size=(160, 120), fps=25) -> Path:
    """A generated clip (vidsim.synth)."""
    return make_clip(path, seconds=seconds, fps=fps, size=size, seed=seed)


SOURCES = {"dev": ("alpha",), "test": ("beta",)}
HELD = {"dev": ("gamma",), "test": ("gamma",)}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    d = tmp_path_factory.mktemp("corpus")
    return {"alpha": _write_clip(d / "alpha.mp4", 9.0, seed=1),
            "beta": _write_clip(d / "beta.mp4", 9.0, seed=2),
            "gamma": _write_clip(d / "gamma.mp4", 4.0, seed=3, size=(128, 96))}


def _build(corpus, out, seed=0, **kw):
    return build_benchmark(corpus, out, seed=seed, sources_dev=SOURCES["dev"], sources_test=SOURCES["test"],
                           held_out=HELD, small=True, workers=2, **kw)


@pytest.fixture(scope="module")
def builds(corpus, tmp_path_factory):
    root = tmp_path_factory.mktemp("bench")
    calls = []
    a = _build(corpus, root / "a", progress=lambda done, total, what: calls.append((done, total, what)))
    b = _build(corpus, root / "b")
    return a, b, calls


def _rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def _digests(out: Path) -> dict[str, str]:
    return {str(p.relative_to(out)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(out.rglob("*")) if p.is_file() and p.name != "build.json"}


def _duration(path: Path) -> float:
    with av.open(str(path)) as c:
        s = c.streams.video[0]
        return float(s.duration * s.time_base) if s.duration else c.duration / av.time_base


def test_same_seed_same_benchmark(builds):
    a, b, calls = builds
    assert not a.skipped and not b.skipped
    da, db = _digests(a.out_dir), _digests(b.out_dir)
    for name in [f"{k}_{s}.csv" for k in ("gt", "manifest", "refs") for s in SPLITS]:
        assert da[name] == db[name], name
    assert da == db  # the videos too: encoders run single-threaded
    assert a.counts == b.counts
    assert calls and calls[-1][0] == calls[-1][1] == len(calls)


def test_rebuild_is_skipped_unless_files_or_parameters_change(corpus, builds, tmp_path):
    a, _, _ = builds
    again = _build(corpus, a.out_dir)
    assert again.skipped and again.counts == a.counts
    tiny = dataclasses.replace(SMALL, families=("hflip",), chains_per_strength={}, partials_per_ref=0,
                               unrelated={})
    c = _build(corpus, tmp_path / "c", seed=1, config=tiny)
    d = _build(corpus, tmp_path / "d", seed=2, config=tiny)
    assert not c.skipped and not d.skipped
    manifest = (tmp_path / "c" / "manifest_dev.csv").read_bytes()
    assert manifest != (tmp_path / "d" / "manifest_dev.csv").read_bytes()
    (tmp_path / "c" / "dev" / "refs" / "R10001.mp4").unlink()
    c2 = _build(corpus, tmp_path / "c", seed=1, config=tiny)
    assert not c2.skipped and (tmp_path / "c" / "dev" / "refs" / "R10001.mp4").exists()
    assert (tmp_path / "c" / "manifest_dev.csv").read_bytes() == manifest
    assert _build(corpus, tmp_path / "c", seed=1, config=tiny).skipped


def test_layout_and_splits_disjoint_by_source(builds):
    a, _, _ = builds
    out = a.out_dir
    meta = json.loads((out / "build.json").read_text())
    ref_sources = {}
    for split in SPLITS:
        refs = _rows(out / f"refs_{split}.csv")
        assert refs and {r["source"] for r in refs} == set(SOURCES[split])
        ref_sources[split] = {r["source"] for r in refs}
        for r in refs:
            assert r["ref_id"].startswith(f"R{1 if split == 'dev' else 2}")
            assert (out / r["file"]).exists() and Path(r["file"]).parent == Path(split, "refs")
            assert Path(r["file"]).stem == r["ref_id"]
        manifest = _rows(out / f"manifest_{split}.csv")
        kinds = {m["kind"] for m in manifest}
        assert kinds == {"copy", "partial", "hard-negative", "unrelated"}
        for m in manifest:
            assert m["split"] == split and Path(m["file"]).stem == m["query_id"]
            assert (out / m["file"]).exists() and Path(m["file"]).parent == Path(split, "queries")
            assert m["strength"] in ("weak", "strong")
            json.loads(m["params"])
            if m["kind"] in ("copy", "partial", "hard-negative"):
                assert m["source"] in SOURCES[split]
            else:
                assert m["source"] in HELD[split] and m["ref_id"] == ""
        fams = {m["family"] for m in manifest if m["kind"] == "copy"}
        assert fams == set(SMALL.families) | {"chain"}
    assert not ref_sources["dev"] & ref_sources["test"]
    assert meta["counts"] == a.counts


def test_gt_inside_files_and_consistent_with_manifest(builds):
    a, _, _ = builds
    out = a.out_dir
    for split in SPLITS:
        refs = {r["ref_id"]: r for r in _rows(out / f"refs_{split}.csv")}
        manifest = {m["query_id"]: m for m in _rows(out / f"manifest_{split}.csv")}
        gt = read_vsc_csv(out / f"gt_{split}.csv")
        positives = {q for q, m in manifest.items() if m["kind"] in ("copy", "partial")}
        assert set(gt.matches) == positives
        for q, by_ref in gt.matches.items():
            m = manifest[q]
            assert list(by_ref) == [m["ref_id"]]
            ref = refs[m["ref_id"]]
            assert ref["source"] == m["source"]
            (seg,) = by_ref[m["ref_id"]]
            qdur, rdur = _duration(out / m["file"]), _duration(out / ref["file"])
            assert 0 <= seg.query_start < seg.query_end <= qdur + 1e-3
            assert 0 <= seg.ref_start < seg.ref_end <= rdur + 1e-3
            speed = json.loads(m["params"]).get("speed-fast", {}).get("speed", 1.0)
            assert seg.query_end - seg.query_start == pytest.approx((seg.ref_end - seg.ref_start) / speed, abs=2e-3)
            assert float(m["src_start"]) == pytest.approx(float(ref["src_start"]) + seg.ref_start, abs=2e-3)


def test_hard_negatives_avoid_references(builds):
    a, _, _ = builds
    out = a.out_dir
    for split in SPLITS:
        refs = _rows(out / f"refs_{split}.csv")
        for m in _rows(out / f"manifest_{split}.csv"):
            if m["kind"] != "hard-negative":
                continue
            s, e = float(m["src_start"]), float(m["src_end"])
            for r in refs:
                if r["source"] == m["source"]:
                    assert e <= float(r["src_start"]) or s >= float(r["src_end"])


def _pool(a, k: int = 4):  # 4x smaller: the copy was resized by another resampler
    h, w, c = a.shape
    return a[: h // k * k, : w // k * k].astype(np.float32).reshape(h // k, k, w // k, k, c).mean((1, 3))


def _mad(x, y):
    return float(np.abs(x.astype(np.float32) - y.astype(np.float32)).mean())


def test_copies_show_the_reference_at_the_gt_times(builds, corpus):
    """Weak partial copies: copy part = reference frames, the rest = host; speed/fps copies map right."""
    a, _, _ = builds
    out = a.out_dir
    checked = {"partial": 0, "time": 0}
    for split in SPLITS:
        refs = {r["ref_id"]: r for r in _rows(out / f"refs_{split}.csv")}
        gt = read_vsc_csv(out / f"gt_{split}.csv")
        for m in _rows(out / f"manifest_{split}.csv"):
            if m["kind"] == "partial" and m["strength"] == "weak":
                (seg,) = gt.matches[m["query_id"]][m["ref_id"]]
                w, h = int(m["width"]), int(m["height"])
                ref_path = out / refs[m["ref_id"]]["file"]
                ts = np.linspace(0.1, seg.query_length - 0.1, 3)
                q = read_frames(out / m["file"], seg.query_start + ts, (w, h))
                r = read_frames(ref_path, seg.ref_start + ts, (w, h))
                step = 1.0 / float(refs[m["ref_id"]]["fps"])
                err = [min(_mad(_pool(q[i]), _pool(read_frames(ref_path, [seg.ref_start + t + d], (w, h))[0]))
                           for d in (-step, 0.0, step)) for i, t in enumerate(ts)]
                host = json.loads(m["params"])["host"]
                before = [seg.query_start / 2]
                hq = read_frames(out / m["file"], before, (w, h))
                hh = read_frames(corpus[host["name"]], [host["start"] + before[0]], (w, h))
                # fitted into the host frame: compare where the copy is (the aspect matches here)
                assert max(err) < 8, (m["query_id"], err)
                assert _mad(hq, hh) < 10 and _mad(hq, r[:1]) > 2 * _mad(hq, hh)
                checked["partial"] += 1
            if m["kind"] == "copy" and m["family"] in ("speed-fast", "fps"):
                (seg,) = gt.matches[m["query_id"]][m["ref_id"]]
                speed = seg.ref_length / seg.query_length
                ref_path = out / refs[m["ref_id"]]["file"]
                ts = np.linspace(0.1, seg.query_length - 0.2, 3)
                q = read_frames(out / m["file"], seg.query_start + ts)
                size = q.shape[2], q.shape[1]
                # query and reference sample the source on grids up to a frame apart: take the
                # best of the reference frames one frame either side of the mapped time
                step = 1.0 / float(refs[m["ref_id"]]["fps"])
                err = [min(_mad(q[i], read_frames(ref_path, [seg.ref_start + t * speed + d], size)[0])
                           for d in (-step, 0.0, step)) for i, t in enumerate(ts)]
                assert max(err) < 10, (m["query_id"], err)
                checked["time"] += 1
    assert checked["partial"] >= 1 and checked["time"] >= 2


def test_needed_clips_and_configs():
    names = needed_clips()
    assert "cap13" in names and "cap12" in names and "franck" in names
    assert set(needed_clips(small=True)) == {"bikes", "megamind", "carphone"}
    assert FULL.ref_length == (8.0, 15.0)


def test_bad_assignments_are_refused(corpus, tmp_path):
    with pytest.raises(ValueError, match="both splits"):
        build_benchmark(corpus, tmp_path, sources_dev=("alpha",), sources_test=("alpha",), held_out=HELD, small=True)
    with pytest.raises(ValueError, match="held-out"):
        build_benchmark(corpus, tmp_path, sources_dev=("alpha",), sources_test=("beta",),
                        held_out={"dev": ("beta",)}, small=True)
    with pytest.raises(ValueError, match="missing"):
        build_benchmark(corpus, tmp_path, sources_dev=("alpha",), sources_test=("delta",), held_out=HELD,
                        small=True)
