"""Crashes the decode fuzz target (tools/fuzz) found, each a clear VideoError now."""
from __future__ import annotations

import pytest

from vidsim import synth
from vidsim.config import DecodeConfig
from vidsim.decode import iter_frames, load_video, probe
from vidsim.errors import NoFramesError


def test_video_stream_without_a_decoder_is_a_no_frames_error(tmp_path):
    # Found as a bit flip in an MP4's sample entry: FFmpeg opens the stream but has no decoder
    # for it, and naming its codec raised AttributeError (PyAV answers through the decoder).
    data = synth.make_clip(tmp_path / "clip.mp4", seconds=1.0, fps=10, size=(64, 48)).read_bytes()
    assert data.count(b"avc1") == 2  # the sample entry and the compatible brand
    unknown = tmp_path / "unknown_codec.mp4"
    unknown.write_bytes(data.replace(b"avc1", b"zzzz"))
    for read in (probe, lambda p: list(iter_frames(p, DecodeConfig(resize=32, crop=0))), load_video):
        with pytest.raises(NoFramesError, match="no FFmpeg decoder for its video codec") as err:
            read(unknown)
        assert err.value.path == str(unknown)
