"""The training objective against hand computations, and the batched scorer against the head."""
import pytest
import torch

from conftest import seeded_regions
from vidsim.similarity.head import ViSiLHead
from vidsim.train.loss import similarity_regulariser, triplet_loss
from vidsim.train.scoring import score_batch, score_pairs


def test_regulariser_matches_a_hand_computation():
    s = torch.tensor([[-1.5, 0.2], [1.25, 3.0]])
    # below -1: |-1.5 + 1| = 0.5; above 1: 0.25 + 2.0; inside: nothing
    assert similarity_regulariser(s).item() == pytest.approx(0.5 + 0.25 + 2.0)
    t = torch.tensor([[0.0, -2.0]])
    # a list of maps of different shapes: the mean of their sums
    assert similarity_regulariser([s, t]).item() == pytest.approx((2.75 + 1.0) / 2)
    assert similarity_regulariser(torch.stack([s, s])).item() == pytest.approx(2.75)


def test_triplet_loss_matches_a_hand_computation():
    s_pos = torch.tensor([0.9, 0.2, 0.5])
    s_neg = torch.tensor([0.1, 0.4, 0.3])
    # max(0, neg - pos + 0.5): 0, 0.7, 0.3
    assert triplet_loss(s_pos, s_neg, 0.5).item() == pytest.approx((0.0 + 0.7 + 0.3) / 3)


@pytest.mark.parametrize("frames", [(3, 7), (9, 12), (16, 5)])
def test_batched_scores_equal_the_head_pair_by_pair(frames):
    torch.manual_seed(0)
    head = ViSiLHead(256, kind="visil")
    queries = torch.stack([seeded_regions(frames[0], 10 + i) for i in range(3)])
    targets = torch.stack([seeded_regions(frames[1], 20 + i) for i in range(3)])
    scores, maps = score_batch(head, queries, targets)
    with torch.no_grad():
        for i in range(3):
            assert scores[i].item() == pytest.approx(head(head.prepare(queries[i]), head.prepare(targets[i])).item(),
                                                     abs=1e-5)
    assert maps.shape[0] == 3 and scores.requires_grad


def test_pairs_of_mixed_shapes_are_scored_in_order():
    torch.manual_seed(1)
    head = ViSiLHead(256, kind="visil")
    pairs = [(seeded_regions(5, 1), seeded_regions(8, 2)), (seeded_regions(9, 3), seeded_regions(6, 4)),
             (seeded_regions(5, 5), seeded_regions(8, 6))]
    scores, maps = score_pairs(head, pairs)
    with torch.no_grad():
        expected = [head(head.prepare(q), head.prepare(t)).item() for q, t in pairs]
    assert scores.tolist() == pytest.approx(expected, abs=1e-5)
    assert [tuple(m.shape) for m in maps] == [(1, 2), (2, 1), (1, 2)]
