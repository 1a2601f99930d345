"""Video decoding: probe files and stream sampled, upright, resized RGB frames.

    from vidsim.decode import iter_frames, probe
    for batch in iter_frames("clip.mp4"):          # DecodeConfig(): 1 frame/s, 256 -> 224
        batch.frames      # uint8 [B, H, W, 3] RGB
        batch.timestamps  # float64 [B], seconds

Sampling takes, for each t_k = k / fps, the frame displayed at t_k by presentation
timestamps (vidsim.decode.sampler has the exact rule). Two ways reach those frames and
give identical results: 'decode' decodes every frame and keeps the sampled ones, 'seek'
jumps to the keyframe before a sample whenever one lies clearly ahead of the decoded
position; 'auto' seeks when keyframes are at most two sample periods apart (less from
720p up, where 'decode' uses frame threads), see vidsim.decode.strategy for the
measurements. Rotation metadata (display matrix) is applied, so frames come out upright.

`iter_decoded_frames` gives every frame as decoded, with its time (for tools that rewrite
video); `VideoWriter` is the one clip writer (benchmark transforms, generated test clips).
"""
from __future__ import annotations

from .discover import VIDEO_EXTENSIONS, check_inputs, find_videos
from .frames import DecodedFrame, iter_decoded_frames
from .pipeline import DecodeAhead, iter_frames_ahead
from .probing import probe
from .reader import iter_frames, load_video
from .types import FrameBatch, VideoInfo
from .writer import VideoEncoding, VideoWriter, write_audio_file

__all__ = [
    "FrameBatch",
    "VideoInfo",
    "probe",
    "iter_frames",
    "iter_frames_ahead",
    "DecodeAhead",
    "load_video",
    "find_videos",
    "check_inputs",
    "VIDEO_EXTENSIONS",
    "DecodedFrame",
    "iter_decoded_frames",
    "VideoEncoding",
    "VideoWriter",
    "write_audio_file",
]
