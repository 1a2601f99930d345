"""VideoWriter and iter_decoded_frames: the one clip writer and the frame-at-a-time reader."""
from __future__ import annotations

import hashlib
import time
from fractions import Fraction

import numpy as np
import pytest

import clips
from vidsim.decode import VideoEncoding, VideoWriter, iter_decoded_frames, probe


def _frames(n: int, size=(64, 48)):
    return [np.full((size[1], size[0], 3), 10 * i, np.uint8) for i in range(n)]


def test_written_frames_read_back_with_their_times(tmp_path):
    path = tmp_path / "a.mp4"
    with VideoWriter(path, (64, 48), Fraction(10), VideoEncoding(options={"crf": "10"})) as w:
        for image in _frames(12):
            w.write(image)
    got = list(iter_decoded_frames(path))
    assert [round(f.time, 3) for f in got] == [round(k / 10, 3) for k in range(12)]
    assert got[3].to_rgb().shape == (48, 64, 3) and abs(int(got[3].to_rgb().mean()) - 30) <= 2
    assert got[0].to_rgb((32, 24)).shape == (24, 32, 3)
    info = probe(path)
    assert (info.width, info.height, info.fps) == (64, 48, 10.0)


def test_given_times_rotation_and_bad_input(tmp_path):
    path = tmp_path / "r.mp4"
    image = clips.quadrant_image(64, 48)
    with VideoWriter(path, (64, 48), Fraction(25), time_base=Fraction(1, 1000), rotation=90) as w:
        for t in (0.0, 0.1, 0.35):
            w.write(image, t)
        with pytest.raises(ValueError, match="increase"):
            w.write(image, 0.35)
        with pytest.raises(ValueError, match="size"):
            w.write(image[:, :32], 0.5)
    frames = list(iter_decoded_frames(path))
    assert [round(f.time, 3) for f in frames] == [0.0, 0.1, 0.35]
    assert clips.quadrant_colours(frames[0].to_rgb()) == clips.quadrant_colours(image)  # shown upright
    assert (probe(path).width, probe(path).height, probe(path).rotation) == (64, 48, 90)


def test_start_seeks_to_the_keyframe_before(tmp_path):
    path = clips.indexed(tmp_path / "i.mp4", count=60, gop=10)
    frames = list(iter_decoded_frames(path, start=1.3))
    assert frames[0].time <= 1.3 + 1e-6 and frames[0].time >= 1.3 - 10 / 25 - 1e-6
    assert clips.read_index(frames[-1].to_rgb()) == 59


def test_webm_bytes_do_not_depend_on_when_they_are_written(tmp_path):
    digests = []
    for i in range(2):
        path = tmp_path / f"v{i}.webm"
        with VideoWriter(path, (64, 48), Fraction(10), VideoEncoding("libvpx-vp9", threads=1)) as w:
            for image in _frames(5):
                w.write(image)
        digests.append(hashlib.sha256(path.read_bytes()).hexdigest())
        if i == 0:
            time.sleep(1.1)
    assert digests[0] == digests[1]
