"""The JSON objects of index results, one source for the CLI's `--json` (`vidsim search`,
`vidsim index list`, `vidsim index stats`) and for `vidsim serve`'s answers."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from vidsim.index.catalog import VideoRecord
    from vidsim.index.index import IndexStats
    from vidsim.index.search import SearchResults


def search_json(query: str, results: SearchResults) -> dict[str, Any]:
    """One query's results: matches best first, with segments, copy decisions and the threshold used."""
    decision = results.decision.to_dict() if results.decision is not None else None
    return {"query": query, "results": [
        {"id": m.video_id, "path": m.path, "similarity": m.similarity, "is_copy": m.is_copy, "segments": [
            {"query_start": s.query_start, "query_end": s.query_end, "ref_start": s.ref_start,
             "ref_end": s.ref_end, "score": s.score} for s in m.segments]}
        for m in results], "threshold": decision, "warnings": list(results.warnings)}


def video_json(record: VideoRecord) -> dict[str, Any]:
    """One indexed video as listed."""
    return {"id": record.id, "path": record.path, "name": record.name, "duration": record.duration,
            "frames": record.frames, "content_hash": record.content_hash}


def stats_json(index: str, stats: IndexStats, feature_key: str) -> dict[str, Any]:
    """What an index holds and what it takes on disk, by component."""
    return {"index": index, "videos": stats.videos, "hours": stats.hours, "frames": stats.frames,
            "vectors": stats.vectors, "vector_kind": stats.vector_kind, "vector_store": stats.vector_store,
            "codes": stats.codes,
            "bytes": stats.bytes, "feature_key": feature_key}
