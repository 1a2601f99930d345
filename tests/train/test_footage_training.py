"""Extra footage in training: its clips are planned apart, leave the corpus sources' clips as they
were, and give the asked share of references."""
from __future__ import annotations

import dataclasses

import numpy as np

from conftest import TINY
from vidsim.cli.main import main
from vidsim.train.augment import Span, plan_clips
from vidsim.train.recipe import DEFAULT
from vidsim.train.triplets import SelfSupervisedTriplets

CORPUS = [Span(0, "a", "a.mp4", 0.05, 40.0), Span(1, "b", "b.mp4", 0.05, 30.0), Span(2, "c", "c.mp4", 0.05, 12.0)]
FOOTAGE = [Span(3, "footage-photos-000", "f0.mp4", 0.05, 11.9), Span(4, "footage-clips-000", "f1.mp4", 0.05, 11.9)]


def test_footage_leaves_the_corpus_clips_unchanged_and_gets_its_own_counts():
    alone = plan_clips(CORPUS, DEFAULT)
    both = plan_clips(CORPUS + FOOTAGE, DEFAULT, extra_from=3)
    assert both[: len(alone)] == alone  # same seeds, same hosts: cached corpus clips are reused
    extra = both[len(alone):]
    per_source = {s.source: [p for p in extra if p.span.source == s.source] for s in FOOTAGE}
    for plans in per_source.values():
        assert sum(p.kind == "chain" for p in plans) == DEFAULT.footage_variants
        assert sum(p.kind == "splice" for p in plans) == DEFAULT.footage_splices
    # without extra_from every span is a corpus source: the footage would get the corpus counts
    assert len(plan_clips(CORPUS + FOOTAGE, DEFAULT)) > len(both)


def test_footage_share_of_references(bank):
    """With one source marked as footage and a share of 0.25, a quarter of references come from it."""
    recipe = dataclasses.replace(TINY, footage_ref_share=0.25)
    sources = sorted({int(v.sources[0]) for v in bank.videos if v.kind == "original"})
    sampler = SelfSupervisedTriplets(bank, recipe, frozenset({sources[0]}))
    rng = np.random.default_rng(5)
    drawn = [sampler._reference(rng, 4) for _ in range(400)]
    share = np.mean([d[0].source == sources[0] for d in drawn if d is not None])
    assert 0.18 < share < 0.32
    plain = SelfSupervisedTriplets(bank, recipe)
    rng = np.random.default_rng(5)
    share = np.mean([d[0].source == sources[0] for d in (plain._reference(rng, 4) for _ in range(400)) if d is not None])
    assert share > 0.25  # uniform over 3 sources


def test_extra_footage_is_refused_with_a_csv(tmp_path, capsys):
    csv = tmp_path / "pairs.csv"
    csv.write_text("query,target,label\n")
    assert main(["train", "--csv", str(csv), "--extra-footage", "--out", str(tmp_path / "run"), "-q"]) != 0
    assert "extra footage is for self-supervised training" in capsys.readouterr().err
