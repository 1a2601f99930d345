"""Hard-negative mining: of each triplet's non-copy candidates, keep the one the current head
scores highest against the reference (the one that most needs the loss)."""
from __future__ import annotations

import numpy as np
import torch

from vidsim.similarity.head import ViSiLHead
from vidsim.train.data import FeatureBank
from vidsim.train.scoring import score_pairs
from vidsim.train.triplets import Triplet


@torch.no_grad()
def hardest_negatives(head: ViSiLHead, bank: FeatureBank, triplets: list[Triplet]) -> list[np.ndarray]:
    """The highest-scoring negative candidate of each triplet (the first on ties)."""
    pairs, owner = [], []
    for i, t in enumerate(triplets):
        target = bank.gather(t.ref)
        for n in t.negs:
            pairs.append((bank.gather(n), target))
            owner.append(i)
    if not pairs:
        return []
    scores, _ = score_pairs(head, pairs)
    best: dict[int, tuple[float, np.ndarray]] = {}
    k = 0
    for i, t in enumerate(triplets):
        for n in t.negs:
            s = float(scores[k])
            if i not in best or s > best[i][0]:
                best[i] = (s, n)
            k += 1
    return [best[i][1] for i in range(len(triplets))]
