"""``tn``, the temporal network: top-k matches per query frame linked into monotonic paths."""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from vidsim.similarity.align.base import Aligner
from vidsim.similarity.align.paths import AlignmentError, MapPath, path_of


@dataclass(frozen=True)
class TemporalNetwork(Aligner):
    """Temporal network: top-k matches per query frame linked into monotonic paths.

    ``top_k`` reference frames kept per query frame; ``min_sim`` similarity a kept match needs
    (node threshold); ``max_step`` the largest step, in frames, between consecutive matches on
    either axis (1 = strictly consecutive frames; larger bridges dropped or unmatched frames).
    """

    top_k: int = 5
    min_sim: float = 0.2
    max_step: int = 3
    max_tries: int = 32  # paths read off before giving up (bounds the cost on noisy maps)

    name = "tn"

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.top_k < 1 or self.max_step < 1:
            raise AlignmentError(f"tn: top_k and max_step must be >= 1, got {self.top_k}, {self.max_step}")

    def paths(self, sim: np.ndarray) -> list[MapPath]:
        P, Q = sim.shape
        k = min(self.top_k, Q)
        G = self.max_step
        J, V = _top_matches(sim, k, self.min_sim)
        rows = np.flatnonzero(np.isfinite(V[:, 0]))
        if rows.size == 0:
            return []
        N = P * k
        START, DEAD = N, N + 1  # START holds 0 (a path may begin anywhere), DEAD holds -inf
        # Candidate predecessors of node (i, a): nodes (i - d, b), d in 1..G, whose reference
        # frame is 1..G frames earlier; the last column is the "start here" option.
        d = np.arange(1, G + 1)
        prow = np.arange(P)[:, None] - d[None, :]  # [P, G]
        prow_c = np.maximum(prow, 0)
        dj = J[:, :, None, None] - J[prow_c][:, None, :, :]  # [P, k, G, k]
        ok = (prow >= 0)[:, None, :, None] & (dj >= 1) & (dj <= G)
        idx = prow_c[:, None, :, None] * k + np.arange(k)[None, None, None, :]
        cand = np.where(ok, idx, DEAD).reshape(P, k, G * k)
        cand = np.concatenate([cand, np.full((P, k, 1), START, dtype=cand.dtype)], axis=2)

        best = np.full(N + 2, -np.inf)
        best[START] = 0.0
        back = np.full(N, START, dtype=np.int64)
        Vf = V.reshape(-1)
        ar = np.arange(k)
        for i in rows.tolist():  # one small vectorised step per query frame with a match
            c = cand[i]
            vals = best[c]
            am = vals.argmax(axis=1)
            sl = slice(i * k, i * k + k)
            best[sl] = Vf[sl] + vals[ar, am]
            back[sl] = c[ar, am]

        Jf = J.reshape(-1)
        node_rows = np.repeat(np.arange(P), k)
        used = ~np.isfinite(best[:N])
        # A path needs >= m0 nodes to span min_length frames: its total is then >= m0 * min_score.
        m0 = 1 + math.ceil((self.min_length - 1) / G)
        floor = m0 * self.min_score if self.min_score > 0 else -np.inf
        kept: list[MapPath] = []
        tries = 0
        for n in np.argsort(-best[:N], kind="stable").tolist():
            if best[n] < floor or len(kept) >= self.max_segments or tries >= self.max_tries:
                break
            if used[n]:
                continue
            tries += 1
            nodes = [n]
            m = back[n]
            while m < N and not used[m]:
                nodes.append(m)
                m = back[m]
            nodes_a = np.asarray(nodes)
            used[nodes_a] = True
            path = path_of(node_rows[nodes_a], Jf[nodes_a], Vf[nodes_a])
            if self._accept(path, kept):
                kept.append(path)
                inside = ((node_rows >= path.query_first) & (node_rows <= path.query_last)
                          & (Jf >= path.ref_first) & (Jf <= path.ref_last))
                used |= inside
        return kept


def _top_matches(sim: np.ndarray, k: int, min_sim: float) -> tuple[np.ndarray, np.ndarray]:
    """Per row, the columns [P, k] and values [P, k] (float64) of its k best cells >= min_sim,
    best first; missing entries have value -inf. Only rows with more than k hits are partitioned."""
    P = sim.shape[0]
    hits = sim >= min_sim
    count = hits.sum(axis=1)
    J = np.zeros((P, k), dtype=np.int64)
    V = np.full((P, k), -np.inf)
    few = count <= k
    r, c = np.nonzero(hits & few[:, None])
    if r.size:
        first = np.searchsorted(r, r)  # index of each row's first hit (r is sorted)
        pos = np.arange(r.size) - first
        J[r, pos] = c
        V[r, pos] = sim[r, c]
    many = np.flatnonzero(~few)
    if many.size:
        sub = sim[many]
        Jm = np.argpartition(-sub, k - 1, axis=1)[:, :k]
        J[many] = Jm
        V[many] = np.take_along_axis(sub, Jm, axis=1)
    order = np.argsort(-V, axis=1, kind="stable")  # best first (so column 0 tells if a row has any)
    return np.take_along_axis(J, order, axis=1), np.take_along_axis(V, order, axis=1)
