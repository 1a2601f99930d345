"""Helpers of the damage tests: the CLI in a subprocess, counting what an index holds."""
from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

CLI = "import sys; from vidsim.cli.main import main; sys.exit(main(sys.argv[1:]))"


def run_vidsim(*args) -> subprocess.CompletedProcess:
    """`vidsim ARGS` in a subprocess (this checkout's vidsim), its output captured."""
    import vidsim

    src = str(Path(vidsim.__file__).resolve().parents[1])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (src, os.environ.get("PYTHONPATH")) if p)}
    return subprocess.run([sys.executable, "-c", CLI, *map(str, args)], capture_output=True, text=True, env=env,
                          timeout=600)


def codes_files(directory: Path) -> list[Path]:
    return sorted((directory / "codes").rglob("*.safetensors"))


def catalog_rows(directory: Path) -> int:
    db = sqlite3.connect(f"{(directory / 'catalog.sqlite').resolve().as_uri()}?mode=ro", uri=True)
    try:
        return int(db.execute("SELECT COUNT(*) FROM videos").fetchone()[0])
    finally:
        db.close()


def results_of(matches) -> list[tuple]:
    """What two searches must agree on: ids, paths, similarities (rounded), segments."""
    return [(m.video_id, m.path, round(m.similarity, 6), [(s.query_start, s.query_end, s.ref_start, s.ref_end)
                                                         for s in m.segments]) for m in matches]
