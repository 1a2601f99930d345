"""Two figures docs/scale.md needs that no other benchmark measures: bytes per catalog row at scale,
and the rate at which one core takes the SHA-256 of a file (what an index add does to every video).

    python benchmarks/scale_sizes.py [--rows 10000 100000] [--hash-mib 256] [--repeats 3]

Catalog: N synthetic rows written through `Catalog.restore` (vidsim's schema and statements):
64-hex content hashes, paths of ~40 characters on shared storage, one-hour videos (3,600 frames);
`catalog.sqlite` after a WAL checkpoint. Hashing: `vidsim.fsutil.sha256_file` of a file of random
bytes in the page cache, so the rate is the CPU's, not a disk's. Speeds taken while other jobs run
are marked "measured under load" with the load averages. Results: benchmarks/results/scale_sizes.md.
"""
from __future__ import annotations

import argparse
import hashlib
import os
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from environment import versions  # noqa: E402  (benchmarks/ is the script's directory)
from vidsim.fsutil import sha256_file  # noqa: E402
from vidsim.index.catalog import Catalog, VideoRecord  # noqa: E402
from vidsim.index.layout import CATALOG_FILE, codes_file, disk_usage  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results" / "scale_sizes.md"
FRAMES = 3600  # one hour at 1 fps
QUIET_LOAD = 0.5  # 1-min load average per CPU above which a speed is marked as measured under load


def records(count: int) -> list[VideoRecord]:
    """`count` rows of one-hour videos with distinct content hashes and realistic paths."""
    out = []
    for i in range(count):
        digest = hashlib.sha256(i.to_bytes(8, "little")).hexdigest()
        out.append(VideoRecord(id=i + 1, content_hash=digest, path=f"/shared/videos/{i // 1000:05d}/{i:09d}.mp4",
                               name=f"{i:09d}", duration=3600.0, frames=FRAMES, first_vector=i * FRAMES,
                               codes_file=codes_file(digest), codes_bytes=8_388_312, file_bytes=635_000_000,
                               added=1.8e9 + i))
    return out


def catalog_bytes(count: int) -> int:
    """Bytes on disk of a catalog holding `count` rows (WAL folded in)."""
    with tempfile.TemporaryDirectory() as tmp:
        catalog = Catalog(Path(tmp) / CATALOG_FILE)
        try:
            catalog.restore(records(count), next_id=count + 1)
            catalog.checkpoint()
        finally:
            catalog.close()
        return disk_usage(Path(tmp))["catalog"]


def hash_rates(mib: int, repeats: int) -> list[float]:
    """MB/s (10^6 bytes) of `sha256_file` on a `mib`-MiB file in the page cache, one per repeat."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "random.bin"
        with open(path, "wb") as fh:
            for _ in range(mib):
                fh.write(os.urandom(1 << 20))
        sha256_file(path)  # warm the page cache
        rates = []
        for _ in range(repeats):
            start = time.perf_counter()
            sha256_file(path)
            rates.append(mib * (1 << 20) / (time.perf_counter() - start) / 1e6)
        return rates


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--hash-mib", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    command = (f"python benchmarks/scale_sizes.py --rows {' '.join(map(str, args.rows))} --hash-mib {args.hash_mib} "
               f"--repeats {args.repeats}")
    lines = ["# Catalog rows and file hashing at scale (docs/scale.md)", "",
             f"Date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}. Command: `{command}`.  ",
             "Versions: " + ", ".join(f"{k} {v}" for k, v in versions(["vidsim"]).items())
             + f", SQLite {sqlite3.sqlite_version}.", "", "## Catalog bytes per row", "",
             "Synthetic rows through `Catalog.restore` (vidsim's schema: the `videos` table and its UNIQUE content-hash "
             "index), one-hour videos, 64-hex hashes, ~40-character paths; `catalog.sqlite` after a WAL checkpoint. "
             "Sizes only (deterministic up to SQLite's page layout), nothing timed.", "",
             "| rows | catalog bytes | **bytes per row** |", "|---:|---:|---:|"]
    for count in args.rows:
        size = catalog_bytes(count)
        lines.append(f"| {count:,} | {size:,} | **{size / count:.0f}** |")
        print(lines[-1])
    cpus = os.cpu_count() or 1
    start_load = os.getloadavg()
    rates = hash_rates(args.hash_mib, args.repeats)
    end_load = os.getloadavg()
    loaded = max(start_load[0], end_load[0]) / cpus > QUIET_LOAD
    lines += ["", "## SHA-256 of a file, one core", "",
              f"`vidsim.fsutil.sha256_file` (hashlib) of a {args.hash_mib}-MiB file of random bytes in the page cache "
              "(no disk read), as `index add` hashes every video it is given.", ""]
    if loaded:
        lines += [f"**Measured under load (load averages (1, 5, 15 min) at start {', '.join(f'{x:.2f}' for x in start_load)}, "
                  f"at end {', '.join(f'{x:.2f}' for x in end_load)} on {cpus} CPUs): other jobs shared the CPUs; "
                  "the rate is a lower bound, to be rerun on a quiet machine.**", ""]
    lines += ["| repeats, MB/s | **best MB/s** |", "|---|---:|",
              f"| {', '.join(f'{r:.0f}' for r in rates)} | **{max(rates):.0f}** |"]
    print(lines[-1])
    RESULTS.write_text("\n".join(lines) + "\n")
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
