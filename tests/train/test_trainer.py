"""Training on generated clips: the loss goes down, the weights move, a resumed run is identical."""
import dataclasses

import pytest
import torch

from conftest import TINY, fixed_triplets
from vidsim.train.loss import similarity_regulariser, triplet_loss
from vidsim.train.mining import hardest_negatives
from vidsim.train.scoring import score_pairs
from vidsim.train.trainer import CheckpointMismatchError, Trainer, new_head
from vidsim.train.triplets import SelfSupervisedTriplets, _Ref

RECIPE = dataclasses.replace(TINY, lr=3e-3, batch_size=8, triplets_per_epoch=64)


def _loss(head, bank, triplets, recipe):
    negatives = hardest_negatives(head, bank, triplets)
    with torch.no_grad():
        pairs = []
        for t, n in zip(triplets, negatives):
            pairs += [(bank.gather(t.pos), bank.gather(t.ref)), (bank.gather(n), bank.gather(t.ref))]
        scores, maps = score_pairs(head, pairs)
        return (triplet_loss(scores[0::2], scores[1::2], recipe.gamma)
                + recipe.reg_weight * similarity_regulariser(maps)).item()


def _trainer(bank, tmp_path, recipe=RECIPE, fingerprint=None):
    head = new_head(bank.dims, recipe.seed)
    return Trainer(head, bank, SelfSupervisedTriplets(bank, recipe), recipe, tmp_path, fingerprint or {"run": "a"},
                   checkpoint_every=1000)


def test_triplets_respect_the_frame_labels(bank):
    sampler = SelfSupervisedTriplets(bank, RECIPE)
    for t in sampler.batch(3):
        src, times = bank.sources[t.ref], bank.times[t.ref]
        assert (src == src[0]).all()
        video = int(bank.video_of[t.ref[0]])
        ref = _Ref(int(src[0]), float(times.min()), float(times.max()), video, bank.videos[video].excluded)
        assert sampler.classify(ref, t.pos) == 1
        assert all(sampler.classify(ref, n) == -1 for n in t.negs)


def test_training_lowers_the_loss_and_changes_the_weights(bank, tmp_path):
    trainer = _trainer(bank, tmp_path)
    held = fixed_triplets(bank, RECIPE)
    before_loss = _loss(trainer.head, bank, held, RECIPE)
    before = {k: v.clone() for k, v in trainer.head.state_dict().items()}
    trainer.fit(until=24)
    after_loss = _loss(trainer.head, bank, held, RECIPE)
    assert after_loss < before_loss - 0.05, (before_loss, after_loss)
    for key, value in trainer.head.state_dict().items():
        assert not torch.equal(value, before[key]), key
    u = trainer.head.attention.context_vector.weight
    assert u.norm().item() == pytest.approx(1.0, abs=1e-5)  # projected back after every step


def test_resume_from_a_checkpoint_continues_identically(bank, tmp_path):
    straight = _trainer(bank, tmp_path / "straight")
    straight.fit(until=6)
    first = _trainer(bank, tmp_path / "resumed")
    first.fit(until=3)  # writes the checkpoint at its last step
    second = _trainer(bank, tmp_path / "resumed")
    assert second.resume() and second.step == 3
    second.fit(until=6)
    for key, value in straight.head.state_dict().items():
        assert torch.equal(value, second.head.state_dict()[key]), key
    assert [h["loss"] for h in straight.history] == [h["loss"] for h in second.history]


def test_a_checkpoint_of_another_run_is_refused(bank, tmp_path):
    _trainer(bank, tmp_path).fit(until=1)
    other = _trainer(bank, tmp_path, fingerprint={"run": "b"})
    with pytest.raises(CheckpointMismatchError, match="checkpoint.pt: checkpoint of another run .*run"):
        other.resume()
