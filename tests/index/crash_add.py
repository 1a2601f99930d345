"""Run `Index.add` in this process and SIGKILL it at a chosen point (driven by test_crash.py).

    python crash_add.py INDEX_DIR CACHE_DIR|- POINT N PATH...

POINT (N = which occurrence, 1-based):
  extracting       while embedding frames (the first progress report of the Nth extraction)
  codes-written    after the Nth codes file is in place, before its catalog row commits
  committed        right after the Nth catalog row commits, before anything else
  snapshot-rename  the Nth vector snapshot is written to its temporary name, not yet renamed
  pause            after the Nth commit, create INDEX_DIR/../ready and wait for INDEX_DIR/../go
                   (the add then finishes normally)
A vector snapshot is written after every video, so each point has one before it.
"""
import os
import signal
import sys
import time
from pathlib import Path


def main() -> None:
    index_dir, cache_dir, point, nth = Path(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4])
    paths = sys.argv[5:]
    import vidsim.index.ingest as ingest_module
    from vidsim.index import Index
    from vidsim.index.catalog import Catalog
    from vidsim.index.layout import VECTORS_FILE
    from vidsim.store import FeatureCache

    count = 0

    def reached() -> bool:
        nonlocal count
        count += 1
        return count == nth

    def die() -> None:
        os.kill(os.getpid(), signal.SIGKILL)

    if point == "codes-written":
        real_write = ingest_module.write_codes

        def write_codes(*args, **kwargs):
            size = real_write(*args, **kwargs)
            if reached():
                die()
            return size

        ingest_module.write_codes = write_codes
    elif point in ("committed", "pause"):
        real_insert = Catalog.insert

        def insert(self, *args, **kwargs):
            record = real_insert(self, *args, **kwargs)
            if reached():
                if point == "committed":
                    die()
                (index_dir.parent / "ready").touch()
                while not (index_dir.parent / "go").exists():
                    time.sleep(0.05)
            return record

        Catalog.insert = insert
    elif point == "snapshot-rename":
        real_replace = os.replace

        def replace(src, dst, *args, **kwargs):
            if Path(dst).name == VECTORS_FILE and reached():
                die()
            return real_replace(src, dst, *args, **kwargs)

        os.replace = replace
    elif point != "extracting":
        raise SystemExit(f"unknown point {point}")

    def progress(event) -> None:
        if point == "extracting" and event.event == "frames" and reached():
            die()

    Index.snapshot_seconds = 0.0
    cache = FeatureCache(cache_dir) if cache_dir != "-" else None
    with Index.open(index_dir, create=False, cache=cache) as index:
        index.add(paths, progress=progress)


if __name__ == "__main__":
    main()
