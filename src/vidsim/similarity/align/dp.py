"""``dp``, dynamic programming: Smith-Waterman-style local alignment on the f2f map."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from vidsim.similarity.align.base import Aligner
from vidsim.similarity.align.paths import MapPath, path_of


@dataclass(frozen=True)
class DynamicProgramming(Aligner):
    """Local alignment on ``similarity - threshold`` with steps (1,1), (1,0) and (1,2).

    ``threshold``: cells above it extend a path, below it cost; ``step_penalty``: cost of a
    non-diagonal step (a repeated or skipped reference frame).
    """

    threshold: float = 0.2
    step_penalty: float = 0.1
    max_gap: int = 2  # a path is cut where more than this many consecutive cells are below threshold
    # least path sum of (similarity - threshold); None: min_length * (min_score - threshold), at least 0
    min_gain: float | None = None
    max_tries: int = 32

    name = "dp"

    def _forward(self, gain: np.ndarray, H: np.ndarray, start: int, changed_until: int | None = None) -> None:
        """Fill H rows from ``start``; with ``changed_until``, stop at the first row after it
        that comes out unchanged (the rows below it cannot change either)."""
        Q = gain.shape[1]
        pen = float(self.step_penalty)
        m = np.empty(Q, dtype=H.dtype)
        for i in range(start, gain.shape[0]):
            prev = H[i]
            np.maximum(prev[2:], prev[:Q], out=m)  # (1,0) and (1,2) steps
            m -= pen
            np.maximum(m, prev[1 : Q + 1], out=m)  # (1,1) step; also >= 0 (H >= 0): start here
            m += gain[i]
            np.maximum(m, np.float32(0), out=m)
            if changed_until is not None and i > changed_until and np.array_equal(m, H[i + 1, 2:]):
                break
            H[i + 1, 2:] = m

    def paths(self, sim: np.ndarray) -> list[MapPath]:
        P, Q = sim.shape
        gain = sim - np.float32(self.threshold)  # float32: the sweep is bound by per-row overhead
        pen = float(self.step_penalty)
        min_gain = self.min_gain
        if min_gain is None:
            min_gain = max(0.0, self.min_length * (self.min_score - self.threshold))
        # H[i + 1, j + 2] = best path sum ending at cell (i, j); two padding columns on the left.
        H = np.zeros((P + 1, Q + 2), dtype=np.float32)
        self._forward(gain, H, 0)
        Hc = H[1:, 2:]  # a view: updated by later sweeps
        kept: list[MapPath] = []
        for _ in range(self.max_tries):
            if len(kept) >= self.max_segments:
                break
            e = int(np.argmax(Hc))
            i, j = divmod(e, Q)
            if not Hc[i, j] > max(min_gain, 0.0):
                break
            rows, cols = [i], [j]
            while i > 0:
                d, v, s = H[i, j + 1], H[i, j + 2] - pen, H[i, j] - pen
                if d >= v and d >= s:
                    pi, pj, b = i - 1, j - 1, d
                elif v >= s:
                    pi, pj, b = i - 1, j, v
                else:
                    pi, pj, b = i - 1, j - 2, s
                if b <= 0 or pj < 0:
                    break
                i, j = pi, pj
                rows.append(i)
                cols.append(j)
            r, c = np.asarray(rows[::-1]), np.asarray(cols[::-1])
            for piece in _split_at_gaps(sim[r, c] >= self.threshold, self.max_gap):
                path = path_of(r[piece], c[piece], sim[r[piece], c[piece]])
                if len(kept) < self.max_segments and self._accept(path, kept):
                    kept.append(path)
                    gain[path.query_first : path.query_last + 1, path.ref_first : path.ref_last + 1] = -np.inf
            gain[r, c] = -np.inf
            self._forward(gain, H, int(r[0]), int(r[-1]))  # gains changed only in these rows
        return kept


def _split_at_gaps(good: np.ndarray, max_gap: int) -> list[np.ndarray]:
    """Index runs of a path separated by more than ``max_gap`` consecutive bad cells, trimmed to good cells."""
    idx = np.flatnonzero(good)
    if idx.size == 0:
        return []
    cuts = np.flatnonzero(np.diff(idx) > max_gap + 1) + 1
    return [np.arange(run[0], run[-1] + 1) for run in np.split(idx, cuts)]
