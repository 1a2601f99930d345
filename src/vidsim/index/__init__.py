"""Index and search: videos stored in a directory (SQLite catalog, compact region codes, a
FAISS store of frame vectors), searched hierarchically (frame k-NN, votes, ViSiL re-ranking,
segment localisation). `Index` is the entry point."""
from vidsim.index.catalog import VideoRecord
from vidsim.index.config import IndexConfig, SearchConfig
from vidsim.index.index import Index, IndexStats
from vidsim.index.ingest import AddProgress, AddReport
from vidsim.index.search import Match
from vidsim.index.vectors import FaissStore, VectorStore

__all__ = [
    "AddProgress",
    "AddReport",
    "FaissStore",
    "Index",
    "IndexConfig",
    "IndexStats",
    "Match",
    "SearchConfig",
    "VectorStore",
    "VideoRecord",
]
