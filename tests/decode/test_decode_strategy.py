"""'decode' and 'seek' reach the same frames; 'auto' picks by keyframe spacing."""
from __future__ import annotations

import numpy as np
import pytest

import clips
from vidsim.config import DecodeConfig
from vidsim.decode import iter_frames, probe
from vidsim.decode.strategy import choose_strategy


def run(path, strategy, **config):
    batches = list(iter_frames(path, DecodeConfig(strategy=strategy, **config)))
    return (np.concatenate([b.timestamps for b in batches]), np.concatenate([b.frames for b in batches]))


@pytest.mark.parametrize(
    "fixture", ["indexed_mp4", "indexed_intra", "indexed_vfr_mkv", "indexed_vfr_mp4", "indexed_ts", "indexed_webm"]
)
@pytest.mark.parametrize("fps", [0.5, 1.0, 2.0])
def test_strategies_agree_on_indexed_clips(request, fixture, fps):
    path = request.getfixturevalue(fixture)
    t_decode, f_decode = run(path, "decode", fps=fps, resize=0, crop=0)
    t_seek, f_seek = run(path, "seek", fps=fps, resize=0, crop=0)
    np.testing.assert_array_equal(t_decode, t_seek)
    assert [clips.read_index(f) for f in f_decode] == [clips.read_index(f) for f in f_seek]
    if "vfr" not in fixture:  # 25 fps: sample k shows frame floor(25 k / fps)
        assert [clips.read_index(f) for f in f_decode] == [int(round(t * 25 * 1000)) // 1000 for t in t_decode]


@pytest.mark.parametrize("fixture", ["natural_mp4", "natural_mkv"])
def test_strategies_agree_pixel_for_pixel(request, fixture):
    path = request.getfixturevalue(fixture)
    t_decode, f_decode = run(path, "decode", fps=1.5)
    t_seek, f_seek = run(path, "seek", fps=1.5)
    np.testing.assert_array_equal(t_decode, t_seek)
    np.testing.assert_array_equal(f_decode, f_seek)


def test_seek_strategy_really_seeks(indexed_intra, monkeypatch):
    from vidsim.decode import reader

    samplers = []
    original = reader.Sampler

    def spy(*args, **kwargs):
        samplers.append(original(*args, **kwargs))
        return samplers[-1]

    monkeypatch.setattr(reader, "Sampler", spy)
    list(iter_frames(indexed_intra, DecodeConfig(strategy="seek", fps=1)))
    list(iter_frames(indexed_intra, DecodeConfig(strategy="decode", fps=1)))
    assert samplers[0].seeks >= 2 and samplers[0].source.decoded < 20
    assert samplers[1].seeks == 0 and samplers[1].source.decoded == 100


def test_auto_choice(indexed_intra, indexed_mp4, natural_mp4):
    intra = probe(indexed_intra)
    assert intra.keyframe_interval == pytest.approx(0.04, abs=1e-3)
    assert choose_strategy(intra, fps=1.0) == "seek"
    gop1s = probe(indexed_mp4)
    assert gop1s.keyframe_interval == pytest.approx(1.0, abs=0.05)
    assert choose_strategy(gop1s, fps=0.5) == "seek"
    assert choose_strategy(gop1s, fps=2.0) == "seek"  # two sample periods: still worth it
    assert choose_strategy(gop1s, fps=4.0) == "decode"
    assert choose_strategy(probe(natural_mp4), fps=1.0, requested="seek") == "seek"
    assert choose_strategy(intra, fps=1.0, requested="decode") == "decode"


def test_auto_choice_accounts_for_frame_threads():
    from vidsim.decode import VideoInfo

    def info(width, height, interval):
        return VideoInfo("x.mp4", 60.0, 25.0, width, height, 0, "h264", 1500, interval, False)

    assert choose_strategy(info(1920, 1080, 0.9), fps=1.0, threads=1) == "seek"
    assert choose_strategy(info(1920, 1080, 0.9), fps=1.0, threads=8) == "decode"  # 4x from threads
    assert choose_strategy(info(1920, 1080, 0.04), fps=1.0, threads=8) == "seek"
    assert choose_strategy(info(320, 240, 0.9), fps=1.0, threads=0) == "seek"  # small: no threads
    assert choose_strategy(info(320, 240, None), fps=1.0) == "decode"
    # program streams / raw streams: seeking is a byte guess, never chosen automatically
    assert choose_strategy(info(320, 240, 0.04), fps=1.0, container_format="mpeg") == "decode"
    assert choose_strategy(info(320, 240, 0.04), fps=1.0, container_format="mov,mp4,m4a,3gp,3g2,mj2") == "seek"


def test_unknown_strategy_rejected(natural_mp4):
    with pytest.raises(ValueError):
        iter_frames(natural_mp4, DecodeConfig(strategy="teleport"))
