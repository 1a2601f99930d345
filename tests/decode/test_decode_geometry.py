"""Orientation, resizing, cropping and colour order of the output frames."""
from __future__ import annotations

import numpy as np
import pytest

import clips
from vidsim import synth
from vidsim.config import DecodeConfig
from vidsim.decode import load_video, probe

UPRIGHT = [clips.RED, clips.GREEN, clips.BLUE, clips.WHITE]  # TL, TR, BL, BR


@pytest.mark.parametrize("degrees", [90, 180, 270, -90])
def test_display_matrix_is_applied(clip_dir, degrees):
    """Frames stored turned, with PyAV's matrix (counter-clockwise degrees): output upright."""
    upright = clips.quadrant_image(96, 64)  # landscape as displayed
    stored = np.rot90(upright, k=-(degrees // 90))  # stored turned clockwise
    path = clips.stored_with_matrix(clip_dir / f"matrix_{degrees}.mp4", stored, degrees)
    info = probe(path)
    assert info.rotation == degrees % 360
    assert (info.width, info.height) == (96, 64)
    frames = load_video(path, DecodeConfig(fps=5, resize=0, crop=0))
    assert frames.shape[1:] == (64, 96, 3)
    assert clips.quadrant_colours(frames[0]) == UPRIGHT


def test_mirrored_display_matrix(clip_dir):
    upright = clips.quadrant_image(96, 64)
    path = clips.stored_with_matrix(clip_dir / "mirror.mp4", upright, 0, hflip=True)
    frames = load_video(path, DecodeConfig(fps=5, resize=0, crop=0))
    assert clips.quadrant_colours(frames[0]) == [clips.GREEN, clips.RED, clips.WHITE, clips.BLUE]


@pytest.mark.parametrize("rotation", [90, 270])
def test_phone_style_clip_comes_out_upright(clip_dir, rotation):
    """synth's rotated clip (stored sideways + matrix) decodes like the unrotated one."""
    kw = dict(seconds=2.0, size=(160, 96), seed=4, codec="libx264", crf=12)
    plain = synth.make_clip(clip_dir / "plain.mkv", **kw)
    turned = synth.make_clip(clip_dir / f"turned_{rotation}.mp4", rotation=rotation, **kw)
    info = probe(turned)
    assert info.rotation == rotation and (info.width, info.height) == (160, 96)
    config = DecodeConfig(fps=2, resize=0, crop=0)
    a, b = load_video(plain, config), load_video(turned, config)
    assert a.shape == b.shape == (4, 96, 160, 3)
    assert np.abs(a.astype(int) - b.astype(int)).mean() < 3  # same pictures, re-encoded
    # and clearly not the same pictures turned the wrong way
    assert np.abs(a.astype(int) - b[:, ::-1, ::-1].astype(int)).mean() > 20


def test_rgb_channel_order(clip_dir):
    path = clips.stored_with_matrix(clip_dir / "colours.mkv", clips.quadrant_image(64, 64), 0)
    frame = load_video(path, DecodeConfig(fps=1, resize=0, crop=0))[0]
    assert tuple(int(c) for c in frame[8, 8]) == pytest.approx((255, 0, 0), abs=12)
    assert tuple(int(c) for c in frame[8, 56]) == pytest.approx((0, 255, 0), abs=12)


@pytest.mark.parametrize(
    "size, resize, crop, shape",
    [
        ((321, 239), 0, 0, (239, 321, 3)),
        ((321, 239), 256, 224, (224, 224, 3)),
        ((321, 239), 128, 0, (128, 172, 3)),
        ((239, 321), 128, 0, (172, 128, 3)),  # portrait: the width is the shorter side
        ((240, 320), 256, 0, (341, 256, 3)),
        ((240, 320), 0, 200, (200, 200, 3)),
        ((320, 240), 100, 224, (100, 133, 3)),  # crop larger than the frame: sides kept whole
    ],
)
def test_odd_and_portrait_sizes(clip_dir, size, resize, crop, shape):
    path = clips.natural(clip_dir / f"size_{size[0]}x{size[1]}.mp4", seconds=1.0, size=size, seed=6)
    info = probe(path)
    assert (info.width, info.height) == size
    frames = load_video(path, DecodeConfig(fps=2, resize=resize, crop=crop))
    assert frames.shape == (2,) + shape
    assert frames.flags["C_CONTIGUOUS"]


def test_centre_crop_is_centred(clip_dir):
    image = clips.quadrant_image(128, 64)
    path = clips.stored_with_matrix(clip_dir / "crop.mp4", image, 0)
    frame = load_video(path, DecodeConfig(fps=1, resize=0, crop=32))[0]
    assert frame.shape == (32, 32, 3)
    assert clips.quadrant_colours(frame) == UPRIGHT  # the four quarters meet at the centre


def test_resize_is_smooth(natural_mp4):
    """Bicubic, not nearest: a downscaled frame is close to the area-average of the full one."""
    full = load_video(natural_mp4, DecodeConfig(fps=1, resize=0, crop=0))[0].astype(np.float32)
    half = load_video(natural_mp4, DecodeConfig(fps=1, resize=60, crop=0))[0].astype(np.float32)
    assert half.shape == (60, 80, 3)
    pooled = full.reshape(60, 2, 80, 2, 3).mean(axis=(1, 3))
    assert np.abs(pooled - half).mean() < 8


def test_sample_aspect_ratio_honoured_when_resizing(clip_dir):
    from fractions import Fraction

    path = clips.stored_with_matrix(clip_dir / "anamorphic.mkv", clips.quadrant_image(160, 120), 0,
                                    sar=Fraction(4, 3))
    info = probe(path)
    assert (info.width, info.height) == (213, 120)
    assert load_video(path, DecodeConfig(fps=1, resize=120, crop=0)).shape == (1, 120, 213, 3)
    assert load_video(path, DecodeConfig(fps=1, resize=0, crop=0)).shape == (1, 120, 160, 3)
