"""Index and search: videos stored in a directory (SQLite catalog, compact region codes, a
FAISS store of frame vectors), searched hierarchically (frame k-NN, votes, ViSiL re-ranking,
segment localisation). `Index` is the entry point; `check_index` and `repair_index` look after
a damaged one."""
from vidsim.index.catalog import VideoRecord
from vidsim.index.check import CheckReport, check_index
from vidsim.index.config import IndexConfig, SearchConfig
from vidsim.index.index import Index, IndexStats
from vidsim.index.ingest import AddProgress, AddReport
from vidsim.index.repair import RepairReport, repair_index
from vidsim.index.search import Match, SearchResults
from vidsim.index.vectors import FaissStore, VectorStore

__all__ = [
    "AddProgress",
    "AddReport",
    "CheckReport",
    "FaissStore",
    "Index",
    "IndexConfig",
    "IndexStats",
    "Match",
    "RepairReport",
    "SearchConfig",
    "SearchResults",
    "VectorStore",
    "VideoRecord",
    "check_index",
    "repair_index",
]
