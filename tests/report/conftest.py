"""Generated clips, an index of two of them and the report of a partial copy, made once per session."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from vidsim.synth import make_clip, write_video


@pytest.fixture(scope="session")
def report_clips(tmp_path_factory) -> dict[str, Path]:
    """a and b (indexed), host (not indexed: bars unlike any generated scene), and `partial`: a's
    00:02-00:06 spliced into host at 00:02."""
    import clips
    from vidsim.bench.transforms import splice

    root = tmp_path_factory.mktemp("report-clips")
    a = make_clip(root / "a.mp4", seconds=8, size=(160, 120), seed=31)
    b = make_clip(root / "b.mp4", seconds=8, size=(160, 120), seed=32)
    host = write_video(root / "host.mp4", (clips.index_image(i, (160, 120)) for i in range(150)), fps=25, crf=12)
    record = splice(a, root / "partial.mp4", 2.0, 6.0, host=host, host_start=0.0, before=2.0, after=2.0,
                    strength="weak", rng=np.random.default_rng(0))
    assert (record.query_start, record.query_end, record.src_start, record.src_end) == (2.0, 6.0, 2.0, 6.0)
    return {"a": a, "b": b, "host": host, "partial": record.path}


@pytest.fixture(scope="session")
def report_index(tmp_path_factory, report_clips) -> Path:
    from vidsim.index import Index
    from vidsim.store import FeatureCache

    directory = tmp_path_factory.mktemp("report-index") / "idx"
    cache = FeatureCache(tmp_path_factory.mktemp("report-cache"))
    with Index.open(directory, cache=cache) as index:
        index.add([report_clips["a"], report_clips["b"]])
    return directory


@pytest.fixture(scope="session")
def partial_report(report_index, report_clips):
    """The report of the partial copy: both matches in detail, 4 thumbnail pairs per segment."""
    from vidsim.index import Index
    from vidsim.report import collect_report

    with Index.open(report_index) as index:
        return collect_report(index, report_clips["partial"], top_k=2, details=2, thumbs=4)
