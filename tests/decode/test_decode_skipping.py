"""Non-reference frames left undecoded (DecodeConfig.skip_nonref): which, and what the samples show."""
from __future__ import annotations

import random
from dataclasses import dataclass

import numpy as np
import pytest

import clips
import vidsim.decode.reader as reader
from vidsim import synth
from vidsim.config import DecodeConfig
from vidsim.decode import iter_frames
from vidsim.decode.sampler import EPS
from vidsim.decode.skipping import SkipPlan, skip_mode

RAW = dict(resize=0, crop=0)  # keep the pattern pixels as drawn


@pytest.fixture(scope="module")
def indexed_mpeg2_ts(clip_dir):
    """MPEG-2 with two B-frames between references, in MPEG-TS (packets keep their own times)."""
    frames = (clips.index_image(i) for i in range(100))
    return synth.write_video(clip_dir / "indexed_mpeg2.ts", frames, fps=25, codec="mpeg2video", gop=25, bf="2")


@pytest.fixture(scope="module")
def indexed_h264_avi(clip_dir):
    frames = (clips.index_image(i) for i in range(100))
    return synth.write_video(clip_dir / "indexed_h264.avi", frames, fps=25, codec="libx264", gop=25)


def sampled(path, monkeypatch, **config) -> tuple[list[int], np.ndarray, list[reader.FrameSource]]:
    """(index shown by each sample, sample times, the FrameSource objects the reader made)."""
    sources: list[reader.FrameSource] = []

    class Recording(reader.FrameSource):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            sources.append(self)

    monkeypatch.setattr(reader, "FrameSource", Recording)
    batches = list(iter_frames(path, DecodeConfig(**{**RAW, **config})))
    monkeypatch.undo()
    indices = [clips.read_index(frame) for b in batches for frame in b.frames]
    return indices, np.concatenate([b.timestamps for b in batches]), sources


@pytest.mark.parametrize("fixture", ["indexed_mp4", "indexed_ts", "indexed_vfr_mkv", "indexed_vfr_mp4",
                                     "indexed_mpeg2_ts"])
@pytest.mark.parametrize("strategy", ["decode", "seek"])
@pytest.mark.parametrize("fps", [0.5, 1.0, 3.0, 7.0])
def test_unsampled_gives_the_frames_of_a_full_decode_and_decodes_fewer(request, monkeypatch, fixture, strategy, fps):
    path = request.getfixturevalue(fixture)
    full, full_times, full_sources = sampled(path, monkeypatch, fps=fps, strategy=strategy, skip_nonref="off")
    got, times, sources = sampled(path, monkeypatch, fps=fps, strategy=strategy, skip_nonref="unsampled")
    assert got == full
    np.testing.assert_array_equal(times, full_times)
    assert sources[0].skip == "unsampled" and full_sources[0].skip == "off"
    if strategy == "decode" and fps <= 3:  # between sparse samples, B-frames go undecoded
        assert sources[0].decoded < full_sources[0].decoded


def test_unsampled_is_exact_on_a_natural_clip_with_b_frames(natural_mp4):
    full = np.concatenate([b.frames for b in iter_frames(natural_mp4, DecodeConfig(skip_nonref="off", fps=2))])
    got = np.concatenate([b.frames for b in iter_frames(natural_mp4, DecodeConfig(fps=2))])
    np.testing.assert_array_equal(got, full)


def frame_times(path, **config) -> np.ndarray:
    return np.concatenate([b.frame_times for b in iter_frames(path, DecodeConfig(**config))])


def test_all_shows_a_reference_frame_at_or_before_the_exact_one(indexed_mp4, monkeypatch):
    exact, _, _ = sampled(indexed_mp4, monkeypatch, fps=3.0, strategy="decode", skip_nonref="off")
    got, _, sources = sampled(indexed_mp4, monkeypatch, fps=3.0, strategy="decode", skip_nonref="all")
    assert sources[0].skip == "all"
    assert len(got) == len(exact)
    behind = [e - g for e, g in zip(exact, got)]
    assert min(behind) >= 0  # never a later frame
    assert max(behind) > 0  # some samples fell on a dropped B-frame
    assert max(behind) <= 4  # ... and show the reference frame just before it (x264: at most 3 B-frames in a row)
    # the batches say which frame each sample shows: 25 fps, frame i at i / 25 s
    shown = frame_times(indexed_mp4, fps=3.0, strategy="decode", skip_nonref="all")
    np.testing.assert_allclose(shown * 25, got, atol=1e-6)
    exact_shown = frame_times(indexed_mp4, fps=3.0, strategy="decode", skip_nonref="off")
    np.testing.assert_array_equal(frame_times(indexed_mp4, fps=3.0, strategy="decode"), exact_shown)
    times = np.concatenate([b.timestamps for b in iter_frames(indexed_mp4, DecodeConfig(fps=3.0))])
    assert np.all(exact_shown <= times + 1e-4) and np.all(times - exact_shown < 1 / 25)


def test_avi_packets_are_not_timed_so_unsampled_decodes_everything(indexed_h264_avi, monkeypatch):
    _, _, sources = sampled(indexed_h264_avi, monkeypatch, strategy="decode")
    assert sources[0].skip == "off" and sources[0].dropped == 0


def test_skip_mode_by_codec_and_container():
    assert skip_mode("unsampled", "h264", "mov,mp4,m4a,3gp,3g2,mj2") == "unsampled"
    assert skip_mode("unsampled", "h264", "avi") == "off"
    assert skip_mode("all", "h264", "avi") == "all"
    assert skip_mode("unsampled", "hevc", "matroska,webm") == "off"  # sub-layer non-reference pictures
    assert skip_mode("all", "vp9", "matroska,webm") == "off"
    assert skip_mode("off", "h264", "mpegts") == "off"


# ----------------------------------------------------------------- the plan on its own
@dataclass
class Packet:
    pts: int | None
    dts: int | None
    size: int = 100
    is_discard: bool = False


def gop_packets(rng: random.Random, frames: int, tick: int = 1, start: int = 0) -> list[Packet]:
    """Packets in decode order of an encoder with B-frame runs (and pyramids): frame i is shown at
    (start + i) * tick; each run of B-frames is decoded after the reference frame that follows it."""
    order: list[int] = []
    i = 0
    while i < frames:
        run = min(rng.randint(0, 3), frames - 1 - i)
        order.append(i + run)  # the reference
        middle = list(range(i, i + run))
        rng.shuffle(middle)  # any order of the B-frames (pyramids decode the middle first)
        order += middle
        i += run + 1
    delay = 3  # decode times run ahead of presentation by the reordering delay
    return [Packet(pts=(start + p) * tick, dts=(start + n - delay) * tick) for n, p in enumerate(order)]


def shown(times: list[float], fps: float) -> set[float]:
    """Presentation times the sampling rule picks (vidsim.decode.sampler), from all frames."""
    ordered = sorted(times)
    picked = {ordered[0]}
    k = 0
    while k / fps + EPS < ordered[-1]:
        t = k / fps
        before = [x for x in ordered if x <= t + EPS]
        picked.add(before[-1] if before else ordered[0])
        k += 1
    picked.add(ordered[-1])
    return picked


@pytest.mark.parametrize("seed", range(24))
def test_plan_keeps_every_frame_a_sample_shows(seed):
    rng = random.Random(seed)
    fps = rng.choice([0.5, 1.0, 2.0, 3.0, 25 / 7])
    tick = rng.choice([1, 3, 40])  # time base 1/25, 1/75, 1/1000 s
    start = rng.choice([0, 0, 7])  # the first frame after time 0 (a later stream start): it shows at t = 0
    packets = gop_packets(rng, rng.randint(40, 400), tick, start)
    plan = SkipPlan(fps, lambda ts: ts / (25 * tick))
    decided = [item for p in packets for item in plan.push(p)] + plan.finish()
    assert [p for p, _ in decided] == packets  # every packet, in decode order
    kept = {p.pts / (25 * tick) for p, needed in decided if needed}
    assert shown([p.pts / (25 * tick) for p in packets], fps) <= kept
    assert plan.dropped > len(packets) / 3  # and most of the others may be dropped


def test_plan_decodes_everything_once_timestamps_go_back():
    rng = random.Random(3)
    packets = gop_packets(rng, 100)
    packets[50].dts = packets[10].dts  # decode times going back: nothing can be reasoned about
    plan = SkipPlan(1.0, lambda ts: ts / 25)
    decided = [item for p in packets for item in plan.push(p)] + plan.finish()
    assert all(needed for p, needed in decided[50:])


def test_plan_without_times_decodes_those_packets():
    plan = SkipPlan(1.0, lambda ts: ts / 25)
    packets = [Packet(pts=None, dts=None) for _ in range(5)]
    decided = [item for p in packets for item in plan.push(p)] + plan.finish()
    assert [needed for _, needed in decided] == [True] * 5
