"""Shared training fixtures: generated source clips and the tiny prepared data built from them."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from vidsim.config import DecodeConfig, FeatureConfig, VidsimConfig
from vidsim.synth import make_clip
from vidsim.train.recipe import QUICK

# small frames keep extraction fast; the recipe makes 2 augmented clips and 1 splice per source
DECODE = DecodeConfig(fps=1, resize=128, crop=112)
TINY = dataclasses.replace(QUICK, variants=2, splices=1, span_seconds=10.0, max_size=(160, 120))


@pytest.fixture(scope="session")
def train_sources(tmp_path_factory):
    root = tmp_path_factory.mktemp("train-sources")
    return [(f"src{seed}", make_clip(root / f"src{seed}.mp4", seconds=9, fps=8, size=(160, 120), seed=seed))
            for seed in (21, 22, 23)]


@pytest.fixture(scope="session")
def train_cache(tmp_path_factory):
    from vidsim.store import FeatureCache

    return FeatureCache(tmp_path_factory.mktemp("train-cache"))


@pytest.fixture(scope="session")
def raw_model():
    from vidsim.model import ViSiL

    return ViSiL(VidsimConfig(decode=DECODE, features=FeatureConfig(whitening="none")))


@pytest.fixture(scope="session")
def prepared(train_sources, train_cache, raw_model, tmp_path_factory):
    """(bank rows, plans) of the generated sources and their augmented clips (unwhitened)."""
    from vidsim.train.data import prepare_self_supervised

    work = tmp_path_factory.mktemp("train-work")
    return prepare_self_supervised(train_sources, TINY, raw_model, train_cache, work, workers=0)


@pytest.fixture(scope="session")
def bank(prepared):
    """The prepared rows, whitened with the packaged whitening as `vidsim train` does."""
    from vidsim.features.whitening import PCAWhitening, packaged_whitening
    from vidsim.train.data import FeatureBank

    white = PCAWhitening.load(packaged_whitening("efficientnet-lite0"))
    rows, _ = prepared
    return FeatureBank(rows, whiten=white)


def seeded_regions(frames: int, seed: int, dims: int = 256) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.nn.functional.normalize(torch.randn(frames, 9, dims, generator=g), dim=-1)


def fixed_triplets(bank, recipe, steps=(10_000, 10_001)):
    from vidsim.train.triplets import SelfSupervisedTriplets

    sampler = SelfSupervisedTriplets(bank, recipe)
    return [t for s in steps for t in sampler.batch(s)]


__all__ = ["DECODE", "TINY", "seeded_regions", "fixed_triplets", "np"]
