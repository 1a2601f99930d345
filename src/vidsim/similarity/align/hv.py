"""``hv``, Hough voting: temporal offsets voted by strong cells, runs along each strong offset."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from vidsim.similarity.align.base import Aligner
from vidsim.similarity.align.paths import MapPath, path_of


@dataclass(frozen=True)
class HoughVoting(Aligner):
    """Offsets (reference frame - query frame) voted by cells >= ``min_sim``; runs along each strong
    offset (+-``band`` frames) with gaps up to ``max_gap`` query frames become segments."""

    min_sim: float = 0.2
    band: int = 1
    max_gap: int = 2
    max_tries: int = 32  # offsets examined after the first (bounds the cost on static scenes)

    name = "hv"

    def paths(self, sim: np.ndarray) -> list[MapPath]:
        P, Q = sim.shape
        hit = sim >= self.min_sim
        qi, rj = np.nonzero(hit)
        if qi.size == 0:
            return []
        off = rj - qi + (P - 1)  # 0 .. P + Q - 2
        votes = np.bincount(off, weights=sim[qi, rj], minlength=P + Q - 1)
        kept: list[MapPath] = []
        taken = np.zeros(P + Q - 1, dtype=bool)
        floor = max(self.min_length * self.min_score, 1e-9)  # least vote of an acceptable run
        tries = 0
        for o in np.argsort(-votes, kind="stable").tolist():
            if votes[o] < floor or len(kept) >= self.max_segments or tries > self.max_tries:
                break
            if taken[o]:
                continue
            tries += 1
            lo, hi = max(0, o - self.band), min(P + Q - 2, o + self.band)
            taken[lo : hi + 1] = True
            # Per query frame, the best cell within the offset band.
            i = np.arange(P)
            cols = i[:, None] + (np.arange(lo, hi + 1) - (P - 1))[None, :]
            valid = (cols >= 0) & (cols < Q)
            vals = np.where(valid, sim[i[:, None], np.clip(cols, 0, Q - 1)], -np.inf)
            b = vals.argmax(axis=1)
            row_best = vals[i, b]
            row_col = cols[i, b]
            match = np.flatnonzero(row_best >= self.min_sim)
            if match.size == 0:
                continue
            # Split the matched query frames into runs separated by more than max_gap frames.
            cuts = np.flatnonzero(np.diff(match) > self.max_gap + 1) + 1
            for run in np.split(match, cuts):
                path = path_of(run, row_col[run], row_best[run])
                if len(kept) < self.max_segments and self._accept(path, kept):
                    kept.append(path)
        kept.sort(key=lambda p: -p.score * p.n_matched)
        return kept
