"""The training loop: batches of triplets, hard-negative mining, triplet loss + similarity
regulariser, Adam, the attention vector projected back to unit norm after every step, and
atomic checkpoints that a later run resumes from exactly (same weights, same next batch).
"""
from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch

from vidsim.errors import ConfigError, VidsimError
from vidsim.fsutil import atomic_path
from vidsim.similarity.head import ViSiLHead
from vidsim.train.data import FeatureBank
from vidsim.train.loss import similarity_regulariser, triplet_loss
from vidsim.train.mining import hardest_negatives
from vidsim.train.recipe import TrainRecipe
from vidsim.train.scoring import score_pairs
from vidsim.train.triplets import Triplet

CHECKPOINT = "checkpoint.pt"
CHECKPOINT_FORMAT = 1
StepCallback = Callable[[int, int, dict[str, float]], None]  # (step done, total steps, metrics)


class TripletSource(Protocol):
    def batch(self, step: int, size: int | None = None) -> list[Triplet]: ...


class CheckpointMismatchError(VidsimError):
    """A run directory's checkpoint belongs to another recipe or other data."""


def new_head(dims: int, seed: int) -> ViSiLHead:
    """A learned head with seeded initial weights (attention unit-norm, comparator Xavier)."""
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        return ViSiLHead(dims, kind="visil")


@dataclass
class Trainer:
    head: ViSiLHead
    bank: FeatureBank
    triplets: TripletSource
    recipe: TrainRecipe
    run_dir: Path
    fingerprint: dict[str, Any] = field(default_factory=dict)  # what a checkpoint must match to be resumed
    checkpoint_every: int = 50
    step: int = 0
    history: list[dict[str, float]] = field(default_factory=list)  # metrics of every step done

    def __post_init__(self):
        self.run_dir = Path(self.run_dir)
        self.optimizer = torch.optim.Adam(self.head.parameters(), lr=self.recipe.lr)

    @property
    def checkpoint_path(self) -> Path:
        return self.run_dir / CHECKPOINT

    # --- one step --------------------------------------------------------------------------
    def train_step(self) -> dict[str, float]:
        """Train on the triplets of step `self.step`; returns its metrics."""
        self.head.eval()  # no dropout or batch norm in the head: eval() changes nothing but is explicit
        for group in self.optimizer.param_groups:
            group["lr"] = self.learning_rate(self.step)
        batch = self.triplets.batch(self.step)
        negatives = hardest_negatives(self.head, self.bank, batch)
        pairs = []
        for t, neg in zip(batch, negatives):
            target = self.bank.gather(t.ref)
            pairs += [(self.bank.gather(t.pos), target), (self.bank.gather(neg), target)]
        scores, maps = score_pairs(self.head, pairs)
        s_pos, s_neg = scores[0::2], scores[1::2]
        trip = triplet_loss(s_pos, s_neg, self.recipe.gamma)
        reg = similarity_regulariser(maps)
        loss = trip + self.recipe.reg_weight * reg
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        self.head.attention.constrain()
        self.step += 1
        metrics = {"step": self.step, "loss": loss.item(), "triplet": trip.item(), "reg": reg.item(),
                   "acc": (s_pos > s_neg).float().mean().item(), "s_pos": s_pos.mean().item(),
                   "s_neg": s_neg.mean().item()}
        self.history.append(metrics)
        return metrics

    def learning_rate(self, step: int) -> float:
        """The recipe's learning rate at `step` (a function of the step only, so resuming changes nothing)."""
        r = self.recipe
        if r.lr_schedule == "constant":
            return r.lr
        if r.lr_schedule == "cosine":
            return r.lr * 0.5 * (1.0 + math.cos(math.pi * min(step, r.total_steps) / max(1, r.total_steps)))
        raise ConfigError(f"unknown lr_schedule {r.lr_schedule!r}: cosine or constant")

    def fit(self, until: int | None = None, on_step: StepCallback | None = None) -> None:
        """Train up to step `until` (default: the recipe's total), checkpointing as it goes."""
        total = self.recipe.total_steps if until is None else until
        # One thread: the loop's tensors are small, so more threads only add synchronisation (measured
        # here: 0.15 s/step on one thread, 1.8 s/step on two while another job used one of 2 cores).
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            while self.step < total:
                metrics = self.train_step()
                if self.step % self.checkpoint_every == 0 or self.step % self.recipe.steps_per_epoch == 0 \
                        or self.step == total:
                    self.save_checkpoint()
                if on_step is not None:
                    on_step(self.step, total, metrics)
        finally:
            torch.set_num_threads(threads)

    # --- checkpoints ---------------------------------------------------------------------------
    def save_checkpoint(self) -> Path:
        state = {"format": CHECKPOINT_FORMAT, "step": self.step, "head": self.head.state_dict(),
                 "optimizer": self.optimizer.state_dict(), "fingerprint": self.fingerprint,
                 "history": self.history}
        with atomic_path(self.checkpoint_path) as tmp:
            torch.save(state, tmp)
        return self.checkpoint_path

    def resume(self) -> bool:
        """Continue from the run directory's checkpoint if there is one; False if there is none."""
        path = self.checkpoint_path
        if not path.is_file():
            return False
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as exc:  # a damaged file: never silently start over on top of it
            raise CheckpointMismatchError(f"{path}: unreadable checkpoint ({exc}); delete it or pass --restart") from exc
        if state.get("format") != CHECKPOINT_FORMAT:
            raise CheckpointMismatchError(f"{path}: checkpoint format {state.get('format')!r}, expected {CHECKPOINT_FORMAT}")
        if state.get("fingerprint") != self.fingerprint:
            theirs = state.get("fingerprint") or {}
            fields = sorted(k for k in set(theirs) | set(self.fingerprint) if theirs.get(k) != self.fingerprint.get(k))
            raise CheckpointMismatchError(
                f"{path}: checkpoint of another run (differs in: {', '.join(fields)}); pass --restart to start "
                "over, or use another output directory")
        self.head.load_state_dict(state["head"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.step = int(state["step"])
        self.history = [dict(h) for h in state["history"]]
        return True


def epoch_summary(history: list[dict[str, float]], steps_per_epoch: int) -> list[dict[str, float]]:
    """Mean metrics per epoch."""
    out = []
    for e in range(0, len(history), steps_per_epoch):
        rows = history[e : e + steps_per_epoch]
        keys = [k for k in rows[0] if k != "step"]
        out.append({"epoch": e // steps_per_epoch + 1, "steps": len(rows),
                    **{k: round(float(np.mean([r[k] for r in rows])), 5) for k in keys}})
    return out
