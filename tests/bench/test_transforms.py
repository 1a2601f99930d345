"""Each benchmark transform writes a decodable video with the property it promises."""
from __future__ import annotations

import hashlib
import time
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from vidsim.bench import (
    FAMILIES,
    STRENGTHS,
    TRANSFORMS,
    apply_chain,
    cut_segment,
    output_suffix,
    random_chain,
    read_frames,
    splice,
)
from vidsim.decode import probe as source_info
from vidsim.synth import make_clip

SIZE = (160, 120)
FPS = 25
START, END = 0.6, 2.6  # the transformed source interval (2 s)


def _write_clip(path: Path, seconds: float, seed: int, size=SIZE, fps=FPS) -> Path:
    """A generated clip (vidsim.synth)."""
    return make_clip(path, seconds=seconds, fps=fps, size=size, seed=seed)


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    d = tmp_path_factory.mktemp("tx")
    return {"src": _write_clip(d / "src.mp4", 3.2, seed=11), "host": _write_clip(d / "host.mp4", 2.0, 7, (128, 96)),
            "dir": d}


def _run(clips, name, strength, seed=0, **ctx):
    dst = clips["dir"] / f"{name}_{strength}_{seed}{output_suffix([name])}"
    rec = TRANSFORMS[name](clips["src"], dst, START, END, strength, np.random.default_rng(seed),
                           host=clips["host"], host_start=0.3, **ctx)
    return rec, dst


def _mad(a, b) -> float:
    return float(np.abs(a.astype(np.float32) - b.astype(np.float32)).mean())


def _probe(path):
    with av.open(str(path)) as c:
        s = c.streams.video[0]
        n = sum(1 for _ in c.decode(s))
        return {"codec": s.codec_context.name, "width": s.codec_context.width, "height": s.codec_context.height,
                "frames": n, "rate": s.average_rate, "duration": c.duration / av.time_base}


Q_TIMES = [0.2, 0.9, 1.6]


def _pool(a, k: int = 4):
    n, h, w, c = a.shape
    a = a[:, : h // k * k, : w // k * k].astype(np.float32)
    return a.reshape(n, h // k, k, w // k, k, c).mean((2, 4))


def _src_at(clips, times, size=SIZE):
    return read_frames(clips["src"], [START + t for t in times], size)


@pytest.mark.parametrize("strength", STRENGTHS)
@pytest.mark.parametrize("name", list(FAMILIES))
def test_every_family_decodes_and_matches_record(clips, name, strength):
    rec, dst = _run(clips, name, strength)
    p = _probe(dst)
    assert (p["width"], p["height"]) == (rec.width, rec.height)
    assert p["width"] % 2 == 0 and p["height"] % 2 == 0
    assert p["frames"] == rec.frames
    assert abs(p["duration"] - rec.duration) < 1.5 / rec.fps
    assert rec.family == name and rec.chain == (name,) and rec.strength == strength
    assert (rec.src_start, rec.src_end) == (START, END)
    assert rec.query_start == 0.0
    assert rec.query_end == pytest.approx((END - START) / rec.speed, abs=1e-3)
    assert rec.duration >= rec.query_end - 1e-9
    assert name in rec.params


def test_hflip_mirrors_pixels(clips):
    for strength, flip in (("weak", lambda a: a[:, :, ::-1]), ("strong", lambda a: a[:, ::-1, ::-1])):
        rec, dst = _run(clips, "hflip", strength)
        q = read_frames(dst, Q_TIMES)
        s = _src_at(clips, Q_TIMES)
        assert _mad(q, flip(s)) < 8
        assert _mad(q, flip(s)) * 3 < _mad(q, s)


def test_crop_changes_size_and_keeps_the_box(clips):
    for strength, (lo, hi) in (("weak", (0.8, 0.85)), ("strong", (0.7, 0.75))):
        rec, dst = _run(clips, "crop", strength, seed=3)
        assert lo - 0.03 <= rec.width / SIZE[0] <= hi + 0.03
        assert lo - 0.03 <= rec.height / SIZE[1] <= hi + 0.03
        x, y, w, h = rec.params["crop"]["box"]
        q = read_frames(dst, Q_TIMES)
        s = _src_at(clips, Q_TIMES)[:, y : y + h, x : x + w]
        assert q.shape == s.shape and _mad(q, s) < 8


def test_downscale_halves_and_quarters(clips):
    assert _run(clips, "downscale", "weak")[0].width == SIZE[0] // 2
    rec, dst = _run(clips, "downscale", "strong")
    assert (rec.width, rec.height) == (SIZE[0] // 4, SIZE[1] // 4)
    assert _probe(dst)["width"] == SIZE[0] // 4


@pytest.mark.parametrize("name,factor", [("speed-slow", 0.75), ("speed-fast", 1.25)])
def test_speed_changes_duration_and_mapping(clips, name, factor):
    rec, dst = _run(clips, name, "strong")
    assert rec.speed == factor
    assert _probe(dst)["duration"] == pytest.approx((END - START) / factor, abs=1.5 / FPS)
    q = read_frames(dst, Q_TIMES)
    right = read_frames(clips["src"], [rec.src_start + t * factor for t in Q_TIMES], SIZE)
    wrong = read_frames(clips["src"], [rec.src_start + t for t in Q_TIMES], SIZE)
    assert _mad(q, right) < 8 and _mad(q, right) < _mad(q, wrong)


def test_fps_changes_frame_rate(clips):
    for strength, fps in (("weak", 15), ("strong", 10)):
        rec, dst = _run(clips, "fps", strength)
        p = _probe(dst)
        assert p["rate"] == Fraction(fps) and rec.fps == fps
        assert p["frames"] == round((END - START) * fps)


def test_grayscale_has_equal_channels(clips):
    rec, dst = _run(clips, "grayscale", "strong")
    q = read_frames(dst, Q_TIMES).astype(int)
    assert np.abs(q[..., 0] - q[..., 1]).max() <= 3 and np.abs(q[..., 1] - q[..., 2]).max() <= 3
    rec, dst = _run(clips, "grayscale", "weak")
    q = read_frames(dst, Q_TIMES).astype(int)
    s = _src_at(clips, Q_TIMES).astype(int)
    spread = lambda a: (a.max(-1) - a.min(-1)).mean()  # noqa: E731
    assert 0 < spread(q) < 0.5 * spread(s)


@pytest.mark.parametrize("strength", STRENGTHS)
def test_letterbox_and_pillarbox_add_black_bars(clips, strength):
    rec, dst = _run(clips, "letterbox", strength)
    x, y, w, h = rec.params["letterbox"]["content"]
    assert rec.height > rec.width * SIZE[1] / SIZE[0] and y > 0 and w == rec.width
    q = read_frames(dst, Q_TIMES).astype(int)
    assert q[:, : y - 1].max() < 25 and q[:, y + h + 1 :].max() < 25
    assert q[:, y + 2 : y + h - 2].mean() > 25
    rec, dst = _run(clips, "pillarbox", strength)
    x, y, w, h = rec.params["pillarbox"]["content"]
    assert rec.width > rec.height * SIZE[0] / SIZE[1] and x > 0 and h == rec.height
    q = read_frames(dst, Q_TIMES).astype(int)
    assert q[:, :, : x - 1].max() < 25 and q[:, :, x + w + 1 :].max() < 25


def test_color_blur_noise_change_pixels_the_expected_way(clips):
    s = _src_at(clips, Q_TIMES).astype(np.float32)
    plain = read_frames(cut_segment(clips["src"], clips["dir"] / "plain.mp4", START, END).path, Q_TIMES)
    assert _mad(plain, s) < 6
    rec, dst = _run(clips, "color", "strong")
    assert _mad(read_frames(dst, Q_TIMES), s) > 12

    def sharpness(a):  # mean absolute Laplacian: high frequencies
        f = a.astype(np.float32).mean(-1)
        return float(np.abs(4 * f[:, 1:-1, 1:-1] - f[:, :-2, 1:-1] - f[:, 2:, 1:-1]
                            - f[:, 1:-1, :-2] - f[:, 1:-1, 2:]).mean())

    rec, dst = _run(clips, "blur", "strong")
    assert sharpness(read_frames(dst, Q_TIMES)) < 0.6 * sharpness(plain)
    rec, dst = _run(clips, "noise", "strong")
    assert float((read_frames(dst, Q_TIMES) - s).std()) > 2 * float((plain - s).std())


def test_rotate_leaves_black_corners(clips):
    rec, dst = _run(clips, "rotate", "strong")
    assert 8 <= abs(rec.params["rotate"]["degrees"]) <= 14
    q = read_frames(dst, Q_TIMES).astype(int)
    assert (rec.width, rec.height) == SIZE
    assert q[:, :2, :2].max() < 30 and q[:, -2:, -2:].max() < 30


@pytest.mark.parametrize("name", ["text", "logo"])
def test_overlays_change_only_their_box(clips, name):
    rec, dst = _run(clips, name, "strong")
    p = rec.params[name]
    if name == "text":
        x, y, w, h = p["box"]
    else:
        w = h = p["side"]
        x = 0 if p["corner"] in ("tl", "bl") else rec.width - w
        y = 0 if p["corner"] in ("tl", "tr") else rec.height - h
    q = read_frames(dst, Q_TIMES)
    s = _src_at(clips, Q_TIMES)
    mask = np.zeros(q.shape[1:3], bool)
    mask[max(0, y - 6) : y + h + 6, max(0, x - 6) : x + w + 6] = True
    inside = np.abs(q.astype(int) - s)[:, mask].mean()
    outside = np.abs(q.astype(int) - s)[:, ~mask].mean()
    assert inside > 15 and outside < 6


def test_pip_puts_the_copy_inside_the_host(clips):
    rec, dst = _run(clips, "pip", "weak")
    hi = source_info(clips["host"])
    assert (rec.width, rec.height) == (hi.width, hi.height)
    x, y, w, h = rec.params["pip"]["box"]
    q = read_frames(dst, Q_TIMES)
    s = _src_at(clips, Q_TIMES, (w, h))
    inset = q[:, y : y + h, x : x + w]
    assert _mad(_pool(inset), _pool(s)) < 8  # compared 4x smaller: resamplers differ in detail
    assert _mad(inset, s) * 2 < _mad(inset, read_frames(clips["host"], [0.3 + t for t in Q_TIMES], (w, h)))
    host = read_frames(clips["host"], [0.3 + t for t in Q_TIMES])
    mask = np.ones(q.shape[1:3], bool)
    mask[max(0, y - 2) : y + h + 2, max(0, x - 2) : x + w + 2] = False
    assert np.abs(q.astype(int) - host)[:, mask].mean() < 8
    with pytest.raises(ValueError, match="host"):
        TRANSFORMS["pip"](clips["src"], clips["dir"] / "x.mp4", START, END, "weak", np.random.default_rng(0))


def test_encoders(clips):
    w, wd = _run(clips, "encode-h264", "weak")
    s, sd = _run(clips, "encode-h264", "strong")
    assert _probe(sd)["codec"] == "h264" and sd.stat().st_size < wd.stat().st_size
    v, vd = _run(clips, "encode-vp9", "strong")
    assert vd.suffix == ".webm" and _probe(vd)["codec"] == "vp9"
    assert v.params["encoder"]["codec"] == "libvpx-vp9"


def test_chain_composes_in_order(clips):
    dst = clips["dir"] / "chain.mp4"
    rec = apply_chain(("crop", "hflip", "speed-fast", "fps"), clips["src"], dst, START, END, "strong",
                      np.random.default_rng(5))
    assert rec.family == "chain" and rec.chain == ("crop", "hflip", "speed-fast", "fps")
    assert rec.speed == 1.25 and rec.fps == 10 and rec.query_end == pytest.approx(1.6)
    x, y, w, h = rec.params["crop"]["box"]
    t = [0.2, 0.8]
    q = read_frames(dst, t)
    s = read_frames(clips["src"], [START + 1.25 * v for v in t], SIZE)[:, y : y + h, x : x + w][:, ::-1, ::-1]
    assert _mad(q, s) < 10


def test_random_chain_is_valid_and_seeded():
    for seed in range(30):
        c = random_chain(np.random.default_rng(seed))
        assert 2 <= len(c) <= 3 and len(set(c)) == len(c) and "pip" not in c
        assert list(c) == sorted(c, key=list(FAMILIES).index)
        assert sum(f in ("encode-h264", "encode-vp9") for f in c) <= 1
        assert sum(f in ("speed-slow", "speed-fast") for f in c) <= 1
        assert c == random_chain(np.random.default_rng(seed))


def test_splice_times_are_right(clips):
    dst = clips["dir"] / "splice.mp4"
    rec = splice(clips["src"], dst, 1.0, 2.2, host=clips["host"], host_start=0.2, before=0.5, after=0.6,
                 strength="weak", rng=np.random.default_rng(0))
    assert rec.query_start == pytest.approx(0.52, abs=1e-3)  # next frame boundary at 25 fps
    assert rec.query_end == pytest.approx(rec.query_start + 1.2, abs=1e-3)
    assert (rec.width, rec.height) == (128, 96)
    assert rec.duration == pytest.approx(0.52 + 1.2 + 0.6, abs=1.5 / FPS)
    inside = [rec.query_start + d for d in (0.05, 0.6, 1.1)]
    q = read_frames(dst, inside)
    s = read_frames(clips["src"], [1.0 + d for d in (0.05, 0.6, 1.1)], (128, 96))
    assert _mad(q, s) < 8
    host_t = [0.1, 0.45, rec.query_end + 0.1, rec.query_end + 0.5]
    q = read_frames(dst, host_t)
    h = read_frames(clips["host"], [0.2 + 0.1, 0.2 + 0.45, 0.2 + rec.query_start + 0.1, 0.2 + rec.query_start + 0.5])
    assert _mad(q, h) < 8
    with pytest.raises(ValueError):
        splice(clips["src"], dst, 1.0, 2.0, host=clips["host"], host_start=0, before=1, after=1, strength="weak",
               rng=np.random.default_rng(0), chain=("speed-fast",))


def test_same_seed_same_bytes_and_bad_arguments(clips):
    digests = []
    for i in range(2):
        dst = clips["dir"] / f"det{i}.mp4"
        apply_chain(("noise", "text"), clips["src"], dst, START, END, "strong", np.random.default_rng(9))
        digests.append(hashlib.sha256(dst.read_bytes()).hexdigest())
    assert digests[0] == digests[1]
    webm = []
    for i in range(2):  # WebM writes the muxing date unless bitexact: a second apart must not matter
        dst = clips["dir"] / f"det{i}.webm"
        apply_chain(("encode-vp9",), clips["src"], dst, START, END, "weak", np.random.default_rng(9))
        webm.append(hashlib.sha256(dst.read_bytes()).hexdigest())
        if i == 0:
            time.sleep(1.1)
    assert webm[0] == webm[1]
    with pytest.raises(ValueError, match="strength"):
        TRANSFORMS["crop"](clips["src"], clips["dir"] / "b.mp4", START, END, "medium", np.random.default_rng(0))
    with pytest.raises(ValueError, match="unknown"):
        apply_chain(("nope",), clips["src"], clips["dir"] / "b.mp4", START, END, "weak", np.random.default_rng(0))
    with pytest.raises(ValueError):
        TRANSFORMS["crop"](clips["src"], clips["dir"] / "b.mp4", 2.0, 1.0, "weak", np.random.default_rng(0))
