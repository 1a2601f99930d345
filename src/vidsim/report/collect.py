"""Gather what a match report shows: search the index (or take a search's results), then, for the
best matches, the f2f map of the query against the whole reference, its heatmap, and thumbnails
of the copied segments decoded from both videos."""
from __future__ import annotations

import dataclasses
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from vidsim.errors import VidsimError
from vidsim.index.codes import read_frame_std
from vidsim.index.search import Match, SearchResults, rerank
from vidsim.similarity.informative import informative_frames
from vidsim.similarity.segments import Segment
from vidsim.store import FEATURE_SUFFIX

from .frames import frames_at, jpeg_thumbnail
from .types import MatchView, QueryReport, SegmentStrip, Thumb

if TYPE_CHECKING:
    from vidsim.features.types import VideoFeatures
    from vidsim.index import Index
    from vidsim.index.catalog import VideoRecord
    from vidsim.index.ingest import FrameProgress


def collect_report(index: Index, query: str | os.PathLike[str], *, results: SearchResults | None = None,
                   features: VideoFeatures | None = None, top_k: int = 5, details: int = 3,
                   threshold: float | None = None, candidates: int | None = None, name: str | None = None,
                   thumbs: int = 6, progress: FrameProgress | None = None) -> QueryReport:
    """The report of one query video (or .safetensors feature file, shown without thumbnails):
    `results` of a search already made (else the index is searched for `top_k` matches, decided
    with `threshold` or the shipped one, `candidates` re-ranked), the detail of the best `details`
    matches, up to `thumbs` thumbnail pairs per copied segment; `name`: how the query is shown
    (default its file name; a service passes the upload's own)."""
    path = Path(query)
    if features is None:
        features = index.features_of(path, progress)
    mirror = index.mirror_of(path, progress)
    if results is None:
        results = index.search(features, top_k=top_k, threshold=threshold, mirror=mirror, candidates=candidates)
    fps = index.stored.vidsim.decode.fps
    duration = float(features.timestamps[-1]) + 1.0 / fps if features.num_frames else 0.0
    is_video = path.suffix != FEATURE_SUFFIX
    notes = () if is_video else (f"{path.name} is a feature file: it holds no pictures, so no query thumbnails",)
    views = tuple(_match_view(index, path if is_video else None, features, mirror, rank, match, thumbs)
                  for rank, match in enumerate(results[:max(0, details)], 1))
    decision = results.decision if results.decision is not None else index.decision(threshold)
    return QueryReport(query=name or path.name, duration=duration, matches=tuple(results), details=views,
                       decision=decision, mode=index.head.mode, config=report_config(index, decision.to_dict()),
                       warnings=tuple(results.warnings), notes=notes)


def report_config(index: Index, decision: dict[str, Any]) -> dict[str, Any]:
    """The configuration that produced a search's scores: the model (this session's similarity
    switches), the index's storage and search settings, and the copy decision."""
    from vidsim import __version__

    stored = index.stored
    model = dataclasses.replace(stored.vidsim, similarity=index.similarity_config)
    storage = dataclasses.replace(stored.index, search=index.search_config)
    return {"vidsim_version": __version__, "index": str(index.directory), "head": index.head.mode,
            "feature_key": stored.feature_key, "decision": decision, "model": model.to_dict(),
            "index_config": storage.to_dict()}


def _match_view(index: Index, query: Path | None, features: VideoFeatures, mirror: VideoFeatures | None, rank: int,
                match: Match, thumbs: int) -> MatchView:
    from vidsim.viz import heatmap_png

    record = index.get(match.video_id)
    name = record.name if record else Path(match.path).stem
    notes: list[str] = []
    heatmap = None
    if record is None:
        notes.append("the reference was removed from the index after the search")
    else:
        mapped = whole_f2f(index, features, mirror, record)
        if mapped is not None:
            f2f, ref_times, mirrored = mapped
            if mirrored:
                notes.append("matched through the query's mirror image (flip_query); the thumbnails show the query as is")
            boxes = [(s.query_start, s.query_end, s.ref_start, s.ref_end) for s in match.segments]
            heatmap = heatmap_png(f2f, features.timestamps, ref_times, boxes,
                                  title=f"{name}: similarity {match.similarity:.3f}",
                                  query_label="query", target_label=name)
    strips = segment_strips(query, Path(match.path) if record else None, match.segments, thumbs, notes)
    duration = record.duration if record else 0.0
    return MatchView(rank, match, name, duration, heatmap, strips, tuple(notes))


def whole_f2f(index: Index, features: VideoFeatures, mirror: VideoFeatures | None,
              record: VideoRecord) -> tuple[np.ndarray, np.ndarray, bool] | None:
    """The f2f map [query frames, reference frames] of the query against the whole indexed video,
    as the search's re-rank computes it (the stored codes, the informative frames only: cells of
    left-out frames read -1), its reference timestamps, and whether the mirror view scored better;
    None when the video's codes are gone."""
    min_std = index.similarity_config.min_frame_std
    best: tuple[float, np.ndarray, np.ndarray, bool] | None = None
    for view in [features] if mirror is None else [features, mirror]:
        regions = index.codec.prepare_query(view.regions)

        def load(video_id: int, first: int, stop: int, dims: int = regions.shape[-1]):
            return index.load_targets(video_id, (first, stop), dims, record)

        def window_keep(video_id: int, first: int, stop: int) -> np.ndarray | None:
            return informative_frames(read_frame_std(index.directory / record.codes_file, (first, stop)), min_std)

        scored = rerank(index.head, regions, [(record.id, 0, record.frames)], load, keep=1,
                        threads=index.search_config.threads, lift=index.codec.lift,
                        query_keep=informative_frames(view.frame_std, min_std),
                        window_keep=window_keep if min_std > 0 else None)
        if not scored or scored[0].f2f is None:
            continue
        margin = index.similarity_config.flip_margin if view is mirror else 0.0
        similarity = scored[0].similarity - margin
        if best is None or similarity > best[0]:
            best = (similarity, scored[0].f2f, scored[0].times, view is mirror)
    return None if best is None else best[1:]


def segment_strips(query: Path | None, reference: Path | None, segments: Sequence[Segment], thumbs: int,
                   notes: list[str]) -> tuple[SegmentStrip, ...]:
    """Each segment's thumbnail pairs at `thumbs` evenly spaced query times and the reference times
    they match (linear over the segment); a video that cannot be read leaves its row empty and a
    note in `notes`."""
    times = [segment_times(s, thumbs) for s in segments]
    flat_query = [q for pairs in times for q, _ in pairs]
    flat_ref = [r for pairs in times for _, r in pairs]
    query_images = _thumbnails(query, flat_query, "query", notes)
    ref_images = _thumbnails(reference, flat_ref, "reference", notes)
    strips, at = [], 0
    for segment, pairs in zip(segments, times):
        row = []
        for q, r in pairs:
            row.append(Thumb(q, r, query_images[at], ref_images[at]))
            at += 1
        strips.append(SegmentStrip(segment, tuple(row)))
    return tuple(strips)


def segment_times(segment: Segment, count: int) -> list[tuple[float, float]]:
    """`count` (query time, reference time) pairs at the middles of `count` equal parts of a segment
    (the reference time mapped linearly over it); one pair at the start of a segment of no length."""
    count = max(1, count)
    q0, q1 = segment.query_start, segment.query_end
    if q1 <= q0:
        return [(q0, segment.ref_start)]
    out = []
    for k in range(count):
        fraction = (k + 0.5) / count
        out.append((q0 + fraction * (q1 - q0), segment.ref_start + fraction * (segment.ref_end - segment.ref_start)))
    return out


def _thumbnails(path: Path | None, times: list[float], side: str, notes: list[str]) -> list[bytes | None]:
    if path is None or not times:
        return [None] * len(times)
    try:
        images = frames_at(path, times)
    except (VidsimError, OSError) as exc:
        notes.append(f"no {side} thumbnails: {exc}")
        return [None] * len(times)
    return [jpeg_thumbnail(image) if image is not None else None for image in images]
