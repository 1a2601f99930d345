"""Copied-segment localisation (vidsim.similarity.align) on synthetic and real-ish f2f maps."""
from __future__ import annotations

import time

import numpy as np
import pytest
import torch

from vidsim.similarity import Segment, localise, make_aligner
from vidsim.similarity.align import (
    AlignmentError,
    DynamicProgramming,
    TemporalNetwork,
    available_aligners,
    suppress_cross_reference,
)

METHODS = ["tn", "dp"]


def noise_map(p: int, q: int, seed: int = 0) -> np.ndarray:
    """Like a real non-copy f2f map (default features): mean about 0.09, spread about 0.04."""
    rng = np.random.default_rng(seed)
    return np.clip(rng.normal(0.09, 0.04, (p, q)), -0.1, 1.0).astype(np.float32)


def plant(sim: np.ndarray, q_first: int, q_last: int, r_first: int, slope: float = 1.0, seed: int = 1,
          level: float = 0.55) -> tuple[int, int]:
    """Draw a copy line (ref frame = r_first + slope * (query frame - q_first)); returns its ref frames."""
    rng = np.random.default_rng(seed)
    cols = []
    for i in range(q_first, q_last + 1):
        j = int(np.floor(r_first + slope * (i - q_first) + 0.5))
        sim[i, j] = level + rng.normal(0, 0.08)
        cols.append(j)
    return cols[0], cols[-1]


def frames_of(seg: Segment, period: float = 1.0) -> tuple[float, float, float, float]:
    """A segment's first/last matched frame indices (centred edges at 1 fps: start + 0.5, end - 0.5)."""
    return (seg.query_start + period / 2, seg.query_end - period / 2,
            seg.ref_start + period / 2, seg.ref_end - period / 2)


def assert_within_one_frame(seg: Segment, truth: tuple[int, int, int, int]) -> None:
    got = frames_of(seg)
    # a start at the video's first frame is clamped to it (not half a period before)
    got = tuple(0.0 if g == 0.5 and t == 0 else g for g, t in zip(got, truth))
    assert np.all(np.abs(np.array(got) - np.array(truth)) <= 1.0), (got, truth)


def times(n: int, period: float = 1.0) -> np.ndarray:
    return np.arange(n) * period


# ------------------------------------------------------------------ synthetic maps
@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("slope", [1.0, 0.75, 1.25])
def test_planted_line_is_found_within_one_frame(method, slope):
    sim = noise_map(60, 90)
    r_first, r_last = plant(sim, 12, 41, 30, slope)
    segs = localise(sim, times(60), times(90), method=method)
    assert len(segs) == 1
    assert_within_one_frame(segs[0], (12, 41, r_first, r_last))
    assert 0.4 < segs[0].score < 0.7  # mean similarity along the path


@pytest.mark.parametrize("method", METHODS)
def test_partial_copy_inside_a_long_reference(method):
    sim = noise_map(20, 200, seed=3)
    plant(sim, 5, 14, 120, seed=4)  # query 5-14 s copies reference 120-129 s
    (seg,) = localise(sim, times(20), times(200), method=method)
    assert_within_one_frame(seg, (5, 14, 120, 129))


@pytest.mark.parametrize("method", METHODS + ["hv"])
def test_no_segment_on_pure_noise(method):
    for seed in range(5):
        sim = noise_map(120, 150, seed=seed)
        assert localise(sim, times(120), times(150), method=method) == []


@pytest.mark.parametrize("method", METHODS)
def test_two_copies_give_two_segments_best_first(method):
    sim = noise_map(80, 120, seed=5)
    plant(sim, 5, 25, 60, seed=6, level=0.7)
    plant(sim, 40, 70, 10, seed=7, level=0.5)
    segs = localise(sim, times(80), times(120), method=method)
    assert len(segs) == 2
    assert segs[0].score > segs[1].score
    assert_within_one_frame(segs[0], (5, 25, 60, 80))
    assert_within_one_frame(segs[1], (40, 70, 10, 40))


@pytest.mark.parametrize("method", METHODS)
def test_two_copies_in_order_are_not_bridged(method):
    sim = noise_map(300, 300, seed=10)
    plant(sim, 20, 100, 10, seed=11)
    plant(sim, 140, 220, 170, seed=12)  # 40 unrelated query frames later, 130 reference frames later
    segs = sorted(localise(sim, times(300), times(300), method=method), key=lambda s: s.query_start)
    assert len(segs) == 2
    assert_within_one_frame(segs[0], (20, 100, 10, 90))
    assert_within_one_frame(segs[1], (140, 220, 170, 250))


def test_segment_times_follow_the_timestamps():
    sim = noise_map(30, 40)
    plant(sim, 10, 19, 5)
    qt, rt = 3.0 + times(30, 0.5), times(40, 0.5)  # 2 fps, the query's first frame at 3 s
    (seg,) = localise(sim, qt, rt, min_length=3)
    assert seg.query_start == pytest.approx(3.0 + 10 * 0.5 - 0.25)
    assert seg.query_end == pytest.approx(3.0 + 19 * 0.5 + 0.25)
    assert seg.ref_start == pytest.approx(5 * 0.5 - 0.25)
    (after,) = localise(sim, qt, rt, edges="after")
    assert (after.query_start, after.query_end) == pytest.approx((8.0, 3.0 + 19 * 0.5 + 0.5))
    assert (after.ref_start, after.ref_end) == pytest.approx((2.5, 7.5))


def test_a_copy_from_the_first_frame_starts_at_zero():
    sim = noise_map(10, 10)
    plant(sim, 0, 9, 0)
    (seg,) = localise(sim, times(10), times(10))
    assert (seg.query_start, seg.ref_start) == (0.0, 0.0)
    assert (seg.query_end, seg.ref_end) == (9.5, 9.5)


def test_torch_input_and_tiny_maps():
    sim = noise_map(12, 12)
    plant(sim, 2, 9, 1)
    assert localise(torch.from_numpy(sim), torch.arange(12.0), times(12)) == localise(sim, times(12), times(12))
    assert localise(np.zeros((0, 5)), [], times(5)) == []
    assert localise(np.full((1, 1), 0.9), [0.0], [0.0]) == []  # one frame is shorter than min_length
    (seg,) = localise(np.full((1, 1), 0.9), [0.0], [0.0], min_length=1, edges="after")
    assert seg.query_end - seg.query_start == pytest.approx(1.0)  # default period for one frame


def test_mismatched_timestamps_are_refused():
    with pytest.raises(AlignmentError, match="query_times has 3 timestamps"):
        localise(noise_map(4, 5), times(3), times(5))
    with pytest.raises(AlignmentError, match="2-D"):
        localise(np.zeros(5), times(5), times(5))


# ------------------------------------------------------------------ factory
def test_factory_builds_each_method_with_its_parameters():
    assert {"tn", "dp"} <= set(available_aligners())
    tn = make_aligner("tn", top_k=3, min_sim=0.3)
    assert isinstance(tn, TemporalNetwork) and tn.top_k == 3 and tn.min_sim == 0.3
    assert isinstance(make_aligner("DP", threshold=0.25), DynamicProgramming)
    sim = noise_map(30, 30)
    plant(sim, 3, 20, 5)
    assert tn(sim, times(30), times(30)) == localise(sim, times(30), times(30), "tn", top_k=3, min_sim=0.3)


def test_unknown_method_or_parameter_is_a_clear_error():
    with pytest.raises(AlignmentError, match=r"unknown alignment method 'hough'; available: dp, hv, tn"):
        make_aligner("hough")
    with pytest.raises(ValueError, match="unknown alignment method"):
        localise(noise_map(5, 5), times(5), times(5), method="nope")
    with pytest.raises(AlignmentError, match=r"'tn' has no parameter\(s\) \['threshold'\]"):
        make_aligner("tn", threshold=0.3)
    with pytest.raises(AlignmentError, match="edges"):
        localise(noise_map(5, 5), times(5), times(5), edges="middle")


# ------------------------------------------------------------------ cross-reference suppression
def test_suppression_keeps_the_best_reference_per_query_moment():
    true = [Segment(10, 20, 0, 10, 0.6)]
    same_scene = [Segment(12, 19, 40, 47, 0.3), Segment(30, 35, 50, 55, 0.3)]  # second: another moment
    other_part = [Segment(40, 50, 0, 10, 0.5)]
    kept = suppress_cross_reference({"a": true, "b": same_scene, "c": other_part})
    assert kept == {"a": true, "b": [same_scene[1]], "c": other_part}
    assert suppress_cross_reference({"a": true + [Segment(11, 19, 30, 38, 0.5)]})["a"] == true + [
        Segment(11, 19, 30, 38, 0.5)]  # one reference's own segments never suppress each other


# ------------------------------------------------------------------ speed
@pytest.mark.parametrize("method", METHODS)
def test_a_600_frame_map_takes_milliseconds(method):
    sim = noise_map(600, 600, seed=8)
    plant(sim, 50, 549, 20, seed=9)
    qt = times(600)
    localise(sim, qt, qt, method=method)  # warm up
    start = time.perf_counter()
    for _ in range(5):
        (seg,) = localise(sim, qt, qt, method=method)
    per_call = (time.perf_counter() - start) / 5
    assert_within_one_frame(seg, (50, 549, 20, 519))
    assert per_call < 0.1, f"{method}: {per_call * 1000:.1f} ms"  # a few ms when the machine is idle


# ------------------------------------------------------------------ real-ish: generated video
@pytest.fixture(scope="module")
def generated_partial_copy(tmp_path_factory):
    """f2f map and timestamps of a query holding source 3-6 s at 2-5 s between another scene."""
    from vidsim import synth
    from vidsim.model import ViSiL

    tmp = tmp_path_factory.mktemp("partial")
    size, fps = (160, 120), 10
    source = synth.make_clip(tmp / "source.mp4", seconds=12, fps=fps, size=size, seed=1)

    def frame(t: float) -> np.ndarray:
        if 2 <= t < 5:
            return synth.render_frame(t + 1, size=size, seed=1)
        return synth.render_frame(t, size=size, seed=2)

    query = synth.write_video(tmp / "query.mp4", (frame(i / fps) for i in range(7 * fps)), fps=fps)
    model = ViSiL()
    fq, fs = model.extract_video(query), model.extract_video(source)
    return model.calculate_f2f_matrix(fq, fs), fq.timestamps, fs.timestamps


@pytest.mark.parametrize("method,params", [("tn", {"min_sim": 0.6}), ("dp", {"threshold": 0.6})])
def test_partial_copy_in_generated_video_is_localised_within_a_second(generated_partial_copy, method, params):
    f2f, qt, rt = generated_partial_copy
    # Generated scenes resemble each other far more than real footage does (unrelated frames
    # score 0.3-0.55 here, about 0.1 on real video), so the thresholds are raised to match.
    segs = localise(f2f, qt, rt, method, min_score=0.6, **params)
    assert segs, f"no copy found; f2f max {float(f2f.max()):.2f}"
    best = segs[0]
    assert abs(best.query_start - 2) <= 1 and abs(best.query_end - 5) <= 1, best
    assert abs(best.ref_start - 3) <= 1 and abs(best.ref_end - 6) <= 1, best
    assert all(s.query_start >= 1 and s.query_end <= 6 for s in segs)  # nothing in the other scene
