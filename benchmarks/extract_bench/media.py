"""Clips the benchmark makes from corpus clips, once, into its cache directory (never committed).

- 720p and 1080p: a corpus clip upscaled and encoded with x264 (`HIRES`);
- long videos (30 min, 2 h): a corpus clip looped with `ffmpeg -stream_loop N -c copy` (`LOOPS`).

Each made file has a sidecar `<file>.json` with the ffmpeg command, the source's SHA-256 and its own;
a file whose digest no longer matches its sidecar is made again. Files are written atomically.
"""
from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from vidsim.fsutil import sha256_file

# name -> (source corpus clip, height): minions is 800x450 (16:9), 30 fps, 60 s, H.264
HIRES = {"720p": ("minions", 720), "1080p": ("minions", 1080)}
X264 = ["-c:v", "libx264", "-preset", "medium", "-crf", "20", "-pix_fmt", "yuv420p"]
LOOP_SOURCE = "franck"  # 200 s, 360x288, 24 fps


def default_cache_dir() -> Path:
    import platformdirs

    return Path(platformdirs.user_cache_dir("vidsim")) / "extract-bench"


def find_ffmpeg(path: str | None) -> str:
    found = path or shutil.which("ffmpeg") or ("/usr/bin/ffmpeg" if os.path.exists("/usr/bin/ffmpeg") else None)
    if not found:
        raise SystemExit("error: ffmpeg not found (needed to make the 720p/1080p and long clips): install it or pass --ffmpeg")
    return found


def _make(out: Path, args: list[str], source: Path, ffmpeg: str, label: str) -> dict:
    """Run `ffmpeg ... args ... out` unless `out` matches its sidecar; the sidecar's record."""
    side = out.with_name(out.name + ".json")
    if out.is_file() and side.is_file():
        try:
            rec = json.loads(side.read_text())
            if rec.get("sha256") == sha256_file(out):
                return {**rec, "made_now": False}
        except (OSError, ValueError):
            pass
        print(f"   {out.name}: digest differs from its sidecar; making it again", file=sys.stderr, flush=True)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.stem}.tmp{os.getpid()}{out.suffix}")
    cmd = [ffmpeg, "-nostdin", "-v", "error", "-y", *args, str(tmp)]
    print(f"   making {out.name} ({label})", file=sys.stderr, flush=True)
    t0 = time.perf_counter()
    try:
        subprocess.run(cmd, check=True)
    except (OSError, subprocess.CalledProcessError) as exc:
        tmp.unlink(missing_ok=True)
        raise SystemExit(f"error: {out.name}: ffmpeg failed ({exc})") from None
    os.replace(tmp, out)
    version = " ".join(subprocess.run([ffmpeg, "-version"], capture_output=True, text=True).stdout.split()[:3])
    shown = ["ffmpeg", *[a if a != str(source) else source.name for a in args], out.name]
    rec = {"file": out.name, "source": source.name, "source_sha256": sha256_file(source), "command": shown,
           "ffmpeg": version, "sha256": sha256_file(out), "bytes": out.stat().st_size,
           "make_s": round(time.perf_counter() - t0, 1)}
    side.write_text(json.dumps(rec, indent=1) + "\n")
    return {**rec, "made_now": True}


def make_hires(name: str, corpus: dict[str, str], cache: Path, ffmpeg: str) -> tuple[str, dict]:
    """The `name` clip of HIRES (made if absent): its path and record."""
    source_name, height = HIRES[name]
    source = Path(corpus[source_name])
    out = cache / f"{source_name}-{name}-x264.mp4"
    width = -2  # keeps the aspect ratio, even
    args = ["-i", str(source), "-an", "-vf", f"scale={width}:{height}:flags=bicubic", *X264]
    return str(out), _make(out, args, source, ffmpeg, f"{source_name} upscaled to {height}p with x264")


def make_loop(seconds: float, corpus: dict[str, str], cache: Path, ffmpeg: str) -> tuple[str, dict]:
    """LOOP_SOURCE repeated to `seconds` (made if absent, stream copy): its path and record."""
    from vidsim.decode import probe

    source = Path(corpus[LOOP_SOURCE])
    repeats = max(1, math.ceil(seconds / probe(source).duration - 1e-6))
    out = cache / f"{LOOP_SOURCE}-loop{repeats}.mp4"
    args = ["-stream_loop", str(repeats - 1), "-i", str(source), "-c", "copy"]
    return str(out), _make(out, args, source, ffmpeg, f"{LOOP_SOURCE} x{repeats}")


def clip_info(path: str) -> dict:
    from vidsim.decode import probe

    info = probe(path)
    return {"name": Path(path).name, "path": path, "duration_s": info.duration, "width": info.width,
            "height": info.height, "fps": info.fps, "codec": info.codec, "keyframe_interval_s": info.keyframe_interval}
