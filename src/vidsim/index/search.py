"""Hierarchical search: nearest frames -> votes per video and temporal offset -> fine re-ranking.

1. Each query frame's vector (L2-normalised mean of its regions) fetches its k nearest indexed
   frames from the vector store.
2. Votes: a video scores, per query frame, the similarity of its best hit (frame votes), and
   separately the hits that agree on one temporal offset (target frame - query frame, binned):
   a copy gives many hits on one diagonal. Candidates are ranked by the mean of both, normalised
   by the number of query frames.
3. The top candidates are re-ranked with the fine ViSiL similarity (the head, on the stored
   compact regions in the codes' own form: binary codes as their signs against the query lifted
   into their space, int8 codes as their integers with the per-region scale weighting their
   similarities, never decoded; others decoded to float32), each on a window of frames around
   the offset its votes found (`rerank_window`), all candidates' windows stacked and compared with
   the query, laid out once, block by block (`vidsim.similarity.blocked_f2f`); the head's scores
   are then read from all candidates' slices at once (`vidsim.similarity.video_scores`).
4. The copied segments of the best ones are located on the same f2f slices
   (`vidsim.similarity.align.localise`), in the reference's seconds.

Reported similarities (and segment scores) are clamped to [-1, 1]: regions decoded from compact
codes are estimates, not unit vectors, so a self-match can score a little above 1. Ranking
uses the unclamped scores, so clamping changes no order (a tie at 1.0 keeps the better first).
"""
from __future__ import annotations

import contextlib
import dataclasses
import math
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from vidsim.decision import CopyDecision
from vidsim.index.catalog import VectorRanges
from vidsim.index.codes import Targets
from vidsim.index.config import SearchConfig
from vidsim.index.vectors import VectorStore
from vidsim.similarity.blocked import blocked_f2f, query_columns
from vidsim.similarity.head import ViSiLHead
from vidsim.similarity.informative import FrameMask, mask_cells
from vidsim.similarity.scoring import video_scores
from vidsim.similarity.segments import Segment


@dataclass(frozen=True)
class Match:
    """One search result: an indexed video, its ViSiL similarity to the query, the copied
    segments (query and target intervals in seconds), best first, and the copy decision
    (`vidsim.decision`: similarity >= the threshold; None when no threshold applies)."""

    video_id: int
    path: str
    similarity: float
    segments: tuple[Segment, ...] = ()
    is_copy: bool | None = None


class SearchResults(list[Match]):
    """`Index.search`'s matches, best first (a plain list of `Match` otherwise), with `warnings`:
    one line per video the search had to leave out (its codes file missing or damaged), and the
    `decision` that set each match's `is_copy`."""

    def __init__(self, matches: Iterable[Match] = (), warnings: Sequence[str] = (),
                 decision: CopyDecision | None = None):
        super().__init__(matches)
        self.warnings: tuple[str, ...] = tuple(warnings)
        self.decision = decision


@dataclass(frozen=True)
class Candidate:
    """A video proposed by the frame votes."""

    video_id: int
    score: float  # (frame_votes + offset_votes) / 2, both in [0, 1]
    frame_votes: float  # mean over query frames of the best hit's similarity in this video
    offset_votes: float  # the same, restricted to the best-supported temporal offset
    offset: float  # that offset in frames (target - query)


def vote(hit_scores: np.ndarray, hit_ids: np.ndarray, ranges: VectorRanges, bin_frames: int) -> list[Candidate]:
    """Candidates from per-query-frame hits ([P, k] scores and vector ids), best first."""
    num_query = hit_scores.shape[0]
    if num_query == 0:
        return []
    videos, frames = ranges.lookup(hit_ids)
    query_frame = np.broadcast_to(np.arange(num_query)[:, None], hit_ids.shape)
    keep = (videos >= 0) & (hit_scores > 0)
    if not keep.any():
        return []
    vid, tf, qf, score = videos[keep], frames[keep], query_frame[keep], hit_scores[keep].astype(np.float64)
    bins = np.floor_divide(tf - qf, max(1, bin_frames))
    video_ids, v = np.unique(vid, return_inverse=True)
    n_videos = len(video_ids)

    # frame votes: the best hit of each (video, query frame), summed per video
    best = _argmax_per_key(v * num_query + qf, score)
    frame_votes = np.bincount(v[best], weights=score[best], minlength=n_videos)

    # offset votes: per (video, offset bin), each query frame's best hit in that bin or either
    # neighbour (an offset on a bin edge is split between two bins), summed; so a query frame
    # counts once per bin and a bin's votes never exceed the video's frame votes. Sparse: only
    # the (video, bin) cells next to a hit exist.
    b_min = bins.min()
    b = bins - b_min + 1  # >= 1, leaves room for the -1 neighbour
    n_bins = int(b.max()) + 2
    spread = np.concatenate([v * n_bins + b + step for step in (-1, 0, 1)])
    spread_q, spread_score = np.tile(qf, 3), np.tile(score, 3)
    best = _argmax_per_key(spread * num_query + spread_q, spread_score)
    cell_keys, cell_of = np.unique(spread[best], return_inverse=True)
    sums = np.bincount(cell_of, weights=spread_score[best])
    cell_video = cell_keys // n_bins
    # the best-supported bin of each video; ties go to the bin whose own hits are best
    own = np.bincount(np.searchsorted(cell_keys, v * n_bins + b), weights=score, minlength=len(cell_keys))
    top = _argmax_per_key(cell_video, sums + 1e-9 * own / max(1.0, own.max()))
    offset_votes = sums[top]
    best_bin = cell_keys[top] % n_bins

    frame_votes, offset_votes = frame_votes / num_query, offset_votes / num_query
    scores = (frame_votes + offset_votes) / 2
    order = np.argsort(-scores, kind="stable")
    return [
        Candidate(int(video_ids[i]), float(scores[i]), float(frame_votes[i]), float(offset_votes[i]),
                  float((best_bin[i] - 1 + b_min) * max(1, bin_frames)))
        for i in order
    ]


def _argmax_per_key(keys: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Index of the largest value of each distinct key, in increasing key order."""
    order = np.lexsort((-values, keys))
    sorted_keys = keys[order]
    first = np.ones(len(order), bool)
    first[1:] = sorted_keys[1:] != sorted_keys[:-1]
    return order[first]


def find_candidates(store: VectorStore, ranges: VectorRanges, query_vectors: np.ndarray, config: SearchConfig,
                    fps: float, query_keep: np.ndarray | None = None) -> list[Candidate]:
    """Step 1 and 2: k-NN per query frame, then votes; `query_keep`: the query frames that vote
    (the informative ones, `similarity.informative`), None: all."""
    k = max(1, min(config.frame_neighbours, store.ntotal))
    scores, ids = store.search(query_vectors, k, nprobe=config.nprobe, ef_search=config.ef_search)
    if query_keep is not None:  # a left-out frame's hits score 0, which votes nothing
        scores = np.where(np.asarray(query_keep)[:, None], scores, 0)
    bin_frames = max(1, int(round(config.offset_bin * fps)))
    return vote(scores, ids, ranges, bin_frames)[: config.candidates]


# target frames stacked in one re-rank step: 8192 x 9 x 512 int8 signs is 38 MB (75 MB of float32
# decoded regions at 256 dims); f2f goes through them in cache-sized blocks (`blocked_f2f`)
STACK_FRAMES = 8192
Loader = Callable[[int, int, int], "tuple[Targets | np.ndarray, np.ndarray] | None"]  # an array: Targets(array)
Lift = Callable[[np.ndarray], np.ndarray]
# the informative frames of a loaded window (video id, first, stop), None: all (similarity.informative)
FrameFilter = Callable[[int, int, int], "np.ndarray | None"]
_Window = tuple[int, int, Targets, np.ndarray]  # a loaded window: video id, first frame, targets, times


@dataclass(frozen=True)
class Reranked:
    """A candidate scored by the head on a window of its frames [first, first + len(times))."""

    video_id: int
    similarity: float
    first: int
    times: np.ndarray  # the window's timestamps, in the reference's seconds
    f2f: np.ndarray | None  # [query frames, window frames], kept for the best `keep` candidates


class RerankTimes(dict[str, float]):
    """Seconds spent per re-rank stage, summed over calls: "read" (loading the windows' codes as
    targets), "f2f" (frame-to-frame maps), "head" (video scores), "localise" (segments)."""

    @contextlib.contextmanager
    def stage(self, name: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self[name] = self.get(name, 0.0) + time.perf_counter() - start


def rerank_window(offset: float, query_frames: int, video_frames: int, config: SearchConfig, fps: float,
                  bin_frames: int = 1) -> tuple[int, int]:
    """Frames [first, stop) of a candidate to compare with the query: around the offset (target -
    query frame, the start of the best vote bin, `bin_frames` wide) with room for a copy played up
    to `window_speed` times faster or slower, plus `window_margin` seconds; the whole video when
    windowing is off or the window covers it."""
    if config.window_speed is None:
        return 0, video_frames
    speed, margin = config.window_speed, math.ceil(config.window_margin * fps)
    first = math.floor(offset - bin_frames - (speed - 1) * query_frames) - margin
    stop = math.ceil(offset + 2 * bin_frames + speed * query_frames) + margin
    return max(0, first), min(video_frames, max(stop, 0))


@torch.no_grad()
def rerank(head: ViSiLHead, query_regions: np.ndarray, requests: Sequence[tuple[int, int, int]], load: Loader,
           keep: int = 10, threads: int | None = None, lift: Lift | None = None,
           times: RerankTimes | None = None, query_keep: np.ndarray | None = None,
           window_keep: FrameFilter | None = None) -> list[Reranked]:
    """Step 3: the head's similarity of each requested window (video id, first, stop), best first.

    `load(video_id, first, stop)` returns those frames' targets [n, R, D'] and timestamps, or None
    if the video is gone: decoded regions (float32), or what `lift` names: `Targets` such that
    scale * (lift(q) . values) = q . region (a codec's `lift` and `targets`: the signs of binary
    codes, int8 codes' integers and scale, never decoded). Windows are stacked up to `STACK_FRAMES`
    frames and compared with the query, laid out once, in one blocked f2f computation (the scales
    as weights of the values' similarities); the f2f slices of the best `keep` are kept for
    localisation. With a learned head the kept maps are those of the features before attention:
    the aligners' thresholds are set on Chamfer f2f values, which attention scales down (the same
    choice as `vidsim evaluate`); that second map is computed for the kept windows only. `times`
    collects seconds per stage. `query_keep` and `window_keep`: the informative query and window
    frames; the others are left out of the scores, and the kept maps read -1 (no match) in their cells."""
    times = RerankTimes() if times is None else times
    lift = lift or _same
    with _torch_threads(threads):
        device = _device_of(head)
        plain_query = torch.from_numpy(np.ascontiguousarray(query_regions, dtype=np.float32)).to(device)
        plain = query_columns(_lifted(lift, plain_query))
        query, context = plain, None
        if head.learned:  # attention: on the query here, on the targets as weights of their similarities
            query = query_columns(_lifted(lift, head.prepare(plain_query)))
            context = _lifted(lift, head.attention.context_vector.weight.detach()).reshape(-1)
        scored: list[Reranked] = []
        for batch in _batches(requests, load, times):
            with times.stage("f2f"):
                stacked = torch.from_numpy(np.concatenate([targets.values for _, _, targets, _ in batch]))
                scale = _stacked_scale(batch)
                weights = scale if context is None else _attention_weights(stacked, context, scale)
                f2f = blocked_f2f(query, stacked, head.symmetric, weights)
                widths = [len(targets) for _, _, targets, _ in batch]
                parts = torch.split(f2f, widths, dim=1)
                windows = list(zip(torch.split(stacked, widths),
                                   [None] * len(batch) if scale is None else torch.split(scale, widths)))
            with times.stage("head"):
                masks = _frame_masks(batch, query_keep, window_keep)
                similarities = video_scores(head, parts, masks).scores.tolist()
            with times.stage("f2f"):
                fresh: dict[int, tuple[torch.Tensor, torch.Tensor | None]] = {}  # windows of this batch (values,
                # scale), for the kept maps of a learned head
                cols: dict[int, np.ndarray | None] = {}  # their informative frames
                for (video_id, first, _, window_times), part, window, similarity, mask in zip(
                        batch, parts, windows, similarities, masks or [None] * len(batch)):
                    fresh[video_id] = window
                    cols[video_id] = mask[1] if mask else None
                    scored.append(Reranked(video_id, similarity, first, window_times,
                                           mask_cells(part.cpu().numpy(), query_keep, cols[video_id])))
                scored.sort(key=lambda r: -r.similarity)
                for i, r in enumerate(scored):
                    if i >= keep and r.f2f is not None:  # only the best keep their f2f map
                        scored[i] = dataclasses.replace(r, f2f=None)
                    elif i < keep and head.learned and r.video_id in fresh:
                        values, window_scale = fresh[r.video_id]
                        kept = blocked_f2f(plain, values, head.symmetric, window_scale).cpu().numpy()
                        scored[i] = dataclasses.replace(r, f2f=mask_cells(kept, query_keep, cols[r.video_id]))
        return scored


def _same(regions: np.ndarray) -> np.ndarray:
    return regions


def _lifted(lift: Lift, regions: torch.Tensor) -> torch.Tensor:
    """`lift` of regions given and returned as torch tensors on their device."""
    if lift is _same:
        return regions
    return torch.from_numpy(np.ascontiguousarray(lift(regions.cpu().numpy()), dtype=np.float32)).to(regions.device)


def _attention_weights(targets: torch.Tensor, context: torch.Tensor, scale: torch.Tensor | None = None,
                       frames: int = 1024) -> torch.Tensor:
    """A learned head's attention weights (x . u) / 2 + 0.5 of target regions [Q, S, D'] given in the
    lifted space (context = lift(u)), [Q, S] float32; `frames` at a time, so that int8 targets are
    never all converted at once. With the targets' `scale` [Q, S] (x = scale * values): the weights
    of the values' similarities, scale * ((scale * values . u) / 2 + 0.5)."""
    out = torch.empty(targets.shape[:-1], device=context.device)
    for start in range(0, targets.shape[0], frames):
        block = targets[start:start + frames]
        dots = (block.reshape(-1, block.shape[-1]).to(device=context.device, dtype=torch.float32) @ context
                ).reshape(block.shape[:-1])
        if scale is None:
            out[start:start + frames] = dots / 2.0 + 0.5
        else:
            factor = scale[start:start + frames].to(out)
            out[start:start + frames] = factor * (factor * dots / 2.0 + 0.5)
    return out


def _stacked_scale(batch: list[_Window]) -> torch.Tensor | None:
    """The windows' region scales stacked [sum of frames, R] float32 (1 for a window without), None if none has one."""
    if all(targets.scale is None for _, _, targets, _ in batch):
        return None
    return torch.from_numpy(np.concatenate([
        np.ones(targets.values.shape[:2], np.float32) if targets.scale is None else targets.scale
        for _, _, targets, _ in batch]))


def rerank_candidates(head: ViSiLHead, query_regions: np.ndarray, query_times: np.ndarray, found: Sequence[Candidate],
                      frames_of: Callable[[int], int | None], load: Loader, config: SearchConfig, fps: float,
                      top_k: int, min_similarity: float | None = None, segments: bool = True,
                      lift: Lift | None = None, times: RerankTimes | None = None,
                      query_keep: np.ndarray | None = None, window_keep: FrameFilter | None = None
                      ) -> list[tuple[Reranked, tuple[Segment, ...]]]:
    """Steps 3 and 4 for the candidates of one query: windows from their voted offsets
    (`frames_of(video_id)`: the video's frame count, None if it is gone), the head's scores, and
    the copied segments of the best `top_k` (those at or above `min_similarity`). `load`, `lift`,
    `query_keep` and `window_keep` as for `rerank`; `times` collects seconds per stage."""
    times = RerankTimes() if times is None else times
    bin_frames = max(1, int(round(config.offset_bin * fps)))
    requests = []
    for candidate in found:
        frames = frames_of(candidate.video_id)
        if frames:
            window = rerank_window(candidate.offset, len(query_regions), frames, config, fps, bin_frames)
            requests.append((candidate.video_id, *window))
    ranked = rerank(head, query_regions, requests, load, keep=top_k, threads=config.threads, lift=lift, times=times,
                    query_keep=query_keep, window_keep=window_keep)
    out = []
    for scored in ranked[:top_k]:  # sorted by the unclamped score
        similarity = clamp_similarity(scored.similarity)
        if min_similarity is not None and similarity < min_similarity:
            break
        located: tuple[Segment, ...] = ()
        if segments and scored.f2f is not None:  # the best top_k keep their f2f map
            with times.stage("localise"):
                located = tuple(dataclasses.replace(s, score=clamp_similarity(s.score))
                                for s in localise_segments(scored.f2f, query_times, scored.times))
        out.append((dataclasses.replace(scored, similarity=similarity), located))
    return out


def clamp_similarity(value: float) -> float:
    """A similarity within its documented range [-1, 1] (see the module docstring)."""
    return min(1.0, max(-1.0, float(value)))


def localise_segments(f2f: np.ndarray, query_times: np.ndarray, target_times: np.ndarray) -> tuple[Segment, ...]:
    """Step 4: copied segments on a (windowed) f2f map; times are the frames' own, in seconds."""
    from vidsim.similarity.align import localise

    return tuple(localise(f2f, np.asarray(query_times, np.float64), np.asarray(target_times, np.float64)))


def _batches(requests: Sequence[tuple[int, int, int]], load: Loader, times: RerankTimes) -> Iterator[list[_Window]]:
    """Loaded windows (video id, first, targets, times), grouped up to STACK_FRAMES frames; targets'
    values stay int8 (exact integers) or become float32, their scales float32."""
    batch: list[_Window] = []
    frames = 0
    for video_id, first, stop in requests:
        if stop <= first:
            continue
        with times.stage("read"):
            loaded = load(video_id, first, stop)
        if loaded is None or len(loaded[0]) == 0:
            continue
        targets = loaded[0] if isinstance(loaded[0], Targets) else Targets(loaded[0])
        stamps = loaded[1]
        if batch and frames + len(targets) > STACK_FRAMES:
            yield batch
            batch, frames = [], 0
        dtype = np.int8 if targets.values.dtype == np.int8 else np.float32
        scale = None if targets.scale is None else np.ascontiguousarray(targets.scale, dtype=np.float32)
        if scale is not None and scale.shape != targets.values.shape[:2]:
            raise ValueError(f"target scale of shape {scale.shape} for values of shape {targets.values.shape}")
        batch.append((video_id, first, Targets(np.ascontiguousarray(targets.values, dtype=dtype), scale),
                      np.asarray(stamps)))
        frames += len(targets)
    if batch:
        yield batch


def _frame_masks(batch: list[_Window], query_keep: np.ndarray | None,
                 window_keep: FrameFilter | None) -> list[FrameMask | None] | None:
    """The (query, window) frames each window of `batch` is scored on; None when all count."""
    if query_keep is None and window_keep is None:
        return None
    masks: list[FrameMask | None] = []
    for video_id, first, regions, _ in batch:
        cols = window_keep(video_id, first, first + len(regions)) if window_keep is not None else None
        masks.append(None if query_keep is None and cols is None else (query_keep, cols))
    return masks


def _device_of(head: ViSiLHead) -> torch.device:
    for parameter in head.parameters():
        return parameter.device
    return torch.device("cpu")


@contextlib.contextmanager
def _torch_threads(threads: int | None) -> Iterator[None]:
    """torch's intra-op thread count set for the block (unchanged when None), then restored."""
    if not threads:
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)
