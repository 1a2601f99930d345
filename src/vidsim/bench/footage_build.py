"""Training videos made from the footage files: photos with camera moves, generated clips re-encoded.

Photos are grouped `photos_per_video` to a video: each is shown for `shot_seconds` with one camera
move (a pan across it, a zoom in or a zoom out: a 16:9 window of the photo moving linearly),
with hard cuts between photos. Animated WebP clips (decoded with Pillow, which reads animated
WebP where FFmpeg does not) are grouped `clips_per_video` to a video, each shown at its own
frame times, centre-cropped to fill the frame, with cuts between clips. Everything is planned
from the seed first (`plan_footage`), then written with `vidsim.decode.VideoWriter` (x264,
bit-exact), with an `ATTRIBUTIONS.md` naming every file used, its author, licence and source.
"""
from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

from vidsim.fsutil import atomic_open

from .encoders import Encoder
from .footage import FootageFile

__all__ = ["FootageShot", "FootageVideo", "FootageRecipe", "plan_footage", "render_footage_video",
           "write_attributions", "build_footage"]

FOOTAGE_TAG = 0x666F6F74  # "foot": the seed-sequence word of footage plans
MOVES = ("pan", "zoom-in", "zoom-out")
ENCODER = Encoder(crf=20)


@dataclass(frozen=True)
class FootageRecipe:
    """The numbers that shape the footage videos."""

    seed: int = 0
    photos_per_video: int = 3
    clips_per_video: int = 4
    shot_seconds: float = 4.0
    fps: int = 12
    photo_size: tuple[int, int] = (640, 360)
    clip_size: tuple[int, int] = (480, 360)


@dataclass(frozen=True)
class FootageShot:
    """One shot of a video: a source file shown from `start` s for `seconds`; photos move their
    window (cx, cy, width as fractions of the photo's largest 16:9 window) from `a` to `b`."""

    file: str
    start: float
    seconds: float
    move: str = ""
    a: tuple[float, float, float] = (0.5, 0.5, 1.0)
    b: tuple[float, float, float] = (0.5, 0.5, 1.0)


@dataclass(frozen=True)
class FootageVideo:
    name: str
    kind: str  # "photos" or "clips"
    size: tuple[int, int]
    fps: int
    shots: tuple[FootageShot, ...]

    @property
    def seconds(self) -> float:
        return sum(s.seconds for s in self.shots)


Window = tuple[float, float, float]


def _photo_move(rng: np.random.Generator) -> tuple[str, Window, Window]:
    """A camera move: its name and the window at its start and end."""
    move = MOVES[int(rng.integers(len(MOVES)))]
    if move == "pan":
        w = float(rng.uniform(0.55, 0.75))
        half = w / 2
        y = float(rng.uniform(half * 0.9, 1 - half * 0.9))
        left, right = (half, y, w), (1 - half, y, w)
        return (move, left, right) if rng.random() < 0.5 else (move, right, left)
    w = float(rng.uniform(0.5, 0.7))
    close = (float(rng.uniform(w / 2, 1 - w / 2)), float(rng.uniform(w / 2, 1 - w / 2)), w)
    full = (0.5, 0.5, 1.0)
    return (move, full, close) if move == "zoom-in" else (move, close, full)


def plan_footage(files: Sequence[FootageFile], recipe: FootageRecipe = FootageRecipe()) -> list[FootageVideo]:
    """The videos made from `files` (photos and clips apart), deterministically from the seed."""
    videos: list[FootageVideo] = []
    photos = [f for f in files if f.kind == "photo"]
    clips = [f for f in files if f.kind == "clip"]
    rng = np.random.default_rng([recipe.seed, FOOTAGE_TAG])
    photos = [photos[int(i)] for i in rng.permutation(len(photos))]
    clips = [clips[int(i)] for i in rng.permutation(len(clips))]
    for k in range(0, len(photos), recipe.photos_per_video):
        shots, t = [], 0.0
        for f in photos[k: k + recipe.photos_per_video]:
            move, a, b = _photo_move(rng)
            shots.append(FootageShot(f.name, t, recipe.shot_seconds, move, a, b))
            t += recipe.shot_seconds
        videos.append(FootageVideo(f"footage-photos-{k // recipe.photos_per_video:03d}", "photos",
                                   recipe.photo_size, recipe.fps, tuple(shots)))
    for k in range(0, len(clips), recipe.clips_per_video):
        shots, t = [], 0.0
        for f in clips[k: k + recipe.clips_per_video]:
            seconds = round(f.frames / 15.0, 3)  # replaced by the clip's own length when rendered
            shots.append(FootageShot(f.name, t, seconds))
            t += seconds
        videos.append(FootageVideo(f"footage-clips-{k // recipe.clips_per_video:03d}", "clips",
                                   recipe.clip_size, recipe.fps, tuple(shots)))
    return videos


def _photo_frames(path: Path, shot: FootageShot, size: tuple[int, int], fps: int):
    from PIL import Image

    with Image.open(path) as im:
        photo = im.convert("RGB")
    W, H = photo.size
    bw = min(W, H * size[0] / size[1])
    n = max(1, round(shot.seconds * fps))
    for i in range(n):
        u = i / max(1, n - 1)
        cx, cy, w = (a + (b - a) * u for a, b in zip(shot.a, shot.b))
        ww, hh = bw * w, bw * w * size[1] / size[0]
        x0 = min(max(cx * W - ww / 2, 0.0), W - ww)
        y0 = min(max(cy * H - hh / 2, 0.0), H - hh)
        frame = photo.resize(size, Image.Resampling.BILINEAR, box=(x0, y0, x0 + ww, y0 + hh), reducing_gap=2.0)
        yield np.asarray(frame)


def _clip_frames(path: Path, size: tuple[int, int]) -> tuple[list[np.ndarray], list[float]]:
    """Every frame of an animated WebP (on black, centre-cropped to `size`) and its start time, s."""
    from PIL import Image, ImageOps

    frames, times, t = [], [], 0.0
    with Image.open(path) as im:
        for i in range(getattr(im, "n_frames", 1)):
            im.seek(i)
            im.load()
            rgba = im.convert("RGBA")
            black = Image.new("RGBA", rgba.size, (0, 0, 0, 255))
            frame = Image.alpha_composite(black, rgba).convert("RGB")
            frames.append(np.asarray(ImageOps.fit(frame, size, Image.Resampling.BILINEAR)))
            times.append(t)
            t += max(10, int(im.info.get("duration") or 40)) / 1000.0
    times.append(t)  # the end of the last frame
    return frames, times


def render_footage_video(video: FootageVideo, sources: dict[str, Path], out: Path) -> dict:
    """Write `video` to `out` (an .mp4); return its record: shots with their true start times."""
    from vidsim.decode import VideoWriter

    fps = Fraction(video.fps)
    shots = []
    with VideoWriter(out, video.size, fps, ENCODER.encoding(fps, *video.size)) as writer:
        for shot in video.shots:
            start = writer.frames / video.fps
            if video.kind == "photos":
                for frame in _photo_frames(sources[shot.file], shot, video.size, video.fps):
                    writer.write(frame)
            else:
                frames, times = _clip_frames(sources[shot.file], video.size)
                n = max(1, round(times[-1] * video.fps))
                for k in range(n):
                    j = int(np.searchsorted(times, k / video.fps, side="right")) - 1
                    writer.write(frames[min(max(j, 0), len(frames) - 1)])
            shots.append({**asdict(shot), "start": round(start, 4), "seconds": round(writer.frames / video.fps - start, 4)})
    return {"name": video.name, "kind": video.kind, "file": out.name, "size": list(video.size), "fps": video.fps,
            "shots": shots}


def write_attributions(path: Path, files: Sequence[FootageFile], records: Sequence[dict]) -> Path:
    """ATTRIBUTIONS.md: every source file used, with author, licence, source and the videos showing it."""
    used: dict[str, list[str]] = {}
    for rec in records:
        for shot in rec["shots"]:
            used.setdefault(shot["file"], []).append(rec["name"])
    lines = ["# Attributions of the vidsim training footage", "",
             "Made by `vidsim.bench.footage_build` from the files below: photographs cropped, scaled and shown with",
             "camera moves (pans, zooms) and cuts between them; animated clips decoded, centre-cropped, scaled and",
             "re-encoded (H.264). These videos are training data only; vidsim does not redistribute them.", "",
             "| file | licence | author | source | package | videos |", "|---|---|---|---|---|---|"]
    for f in files:
        if f.name not in used:
            continue
        cell = [f.name, f.licence, f.author.replace("|", "/"), f.source, f"{f.package} {f.version}",
                ", ".join(sorted(set(used[f.name])))]
        lines.append("| " + " | ".join(cell) + " |")
    with atomic_open(path, "w") as fh:
        fh.write("\n".join(lines) + "\n")
    return path


def build_footage(files: Sequence[FootageFile], sources: dict[str, Path], out_dir: Path,
                  recipe: FootageRecipe = FootageRecipe(), progress: Callable[[int, int], None] | None = None
                  ) -> list[tuple[str, Path]]:
    """Write every planned video into `out_dir` (skipping those already made with the same plan),
    `videos.json` and `ATTRIBUTIONS.md`; return [(video name, path)]."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    plans = plan_footage(files, recipe)
    index_path = out_dir / "videos.json"
    try:
        previous = {r["name"]: r for r in json.loads(index_path.read_text())["videos"]}
    except (OSError, ValueError, KeyError):
        previous = {}
    records = []
    for i, video in enumerate(plans):
        path = out_dir / f"{video.name}.mp4"
        plan = json.loads(json.dumps(asdict(video)))
        old = previous.get(video.name)
        if old is not None and old.get("plan") == plan and path.is_file():
            records.append(old)
        else:
            tmp = path.with_name(f".{path.name}.part.mp4")
            rec = render_footage_video(video, sources, tmp)
            tmp.replace(path)
            rec["file"] = path.name
            records.append({**rec, "plan": plan})
        if progress is not None:
            progress(i + 1, len(plans))
    with atomic_open(index_path, "w") as fh:
        json.dump({"recipe": asdict(recipe), "videos": records}, fh, indent=1)
    write_attributions(out_dir / "ATTRIBUTIONS.md", files, records)
    return [(r["name"], out_dir / r["file"]) for r in records]
