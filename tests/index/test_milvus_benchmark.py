"""A Milvus-backed index ranks the benchmark's copies as the FAISS one does: `vidsim evaluate --method
vidsim-search` on the test split, both ways, mAP and µAP within 0.005 (features from the cache the
benchmark scripts fill; the benchmark itself is built by benchmarks/build_benchmark.py)."""
from __future__ import annotations

from pathlib import Path

import pytest

BENCH = Path.home() / ".cache" / "vidsim" / "bench"

pytestmark = [
    pytest.mark.skipif(not (BENCH / "gt_test.csv").is_file(),
                       reason=f"the benchmark is not built in {BENCH} (python benchmarks/build_benchmark.py)"),
]


def test_a_milvus_index_ranks_the_benchmark_copies_as_the_faiss_one(tmp_path):
    pytest.importorskip("pymilvus", reason="the Milvus store needs the milvus extra (pip install 'vidsim[milvus]')")
    pytest.importorskip("milvus_lite", reason="the Milvus store needs the milvus extra (pip install 'vidsim[milvus]')")
    from vidsim.evaluate.methods import build_method
    from vidsim.evaluate.runner import run_evaluation
    from vidsim.store import FeatureCache

    cache = FeatureCache()
    metrics = {}
    for vectors in ("flat", "milvus"):
        method = build_method("vidsim-search", cache=cache, index_options={"index.vectors": vectors})
        method.name = f"search, {vectors}"
        run = run_evaluation(BENCH / "test" / "queries", BENCH / "test" / "refs", BENCH / "gt_test.csv", [method],
                             tmp_path / vectors, attributes=BENCH / "manifest_test.csv")
        assert not run.failures
        metrics[vectors] = run.results[0].metrics
    assert metrics["flat"]["mAP"] > 0.9  # the split as benchmarks/results/levers.md measured it
    for name in ("mAP", "uAP"):
        assert abs(metrics["milvus"][name] - metrics["flat"][name]) <= 0.005, (name, metrics)
