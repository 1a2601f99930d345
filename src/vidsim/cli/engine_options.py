"""`--engine` and the Ray options of `vidsim index add` and `vidsim extract`, and the engine they make."""
from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from vidsim.config import VidsimConfig
    from vidsim.engine import Engine

ENGINES = ("local", "ray")


def engine_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("engine (where videos are decoded and embedded; this process writes the results)")
    group.add_argument("--engine", choices=ENGINES, default="local",
                       help="local: in this process (default); ray: Ray actors, each holding the model, on a local "
                            "Ray started for the run or on the cluster at --ray-address (needs pip install 'vidsim[ray]')")
    group.add_argument("--workers", type=int, default=2, metavar="N", help="Ray workers (default: %(default)s)")
    group.add_argument("--ray-address", metavar="ADDR",
                       help="an existing Ray cluster (e.g. ray://head:10001 or head:6379); its workers must read the "
                            "files at the paths given (shared storage); default: start a local Ray and stop it after")
    group.add_argument("--gpus-per-worker", type=float, default=0.0, metavar="G",
                       help="GPUs each Ray worker holds (fractions share one); more than 0 embeds on CUDA "
                            "(default: %(default)s)")
    group.add_argument("--cpus-per-worker", type=float, default=1.0, metavar="C",
                       help="CPUs each Ray worker holds, and its inference and decoder threads (default: %(default)s)")


@contextmanager
def opened_engine(args: argparse.Namespace, config: VidsimConfig, cache: Any) -> Iterator[Engine | None]:
    """The engine the options ask for (None: in process, as without one), closed afterwards."""
    if getattr(args, "engine", "local") != "ray":
        yield None
        return
    from vidsim.engine.ray_engine import RayEngine

    if not args.quiet:
        where = args.ray_address or "a local Ray"
        print(f"starting {args.workers} Ray workers on {where}", file=sys.stderr)
    engine = RayEngine(config, workers=args.workers, address=args.ray_address, gpus_per_worker=args.gpus_per_worker,
                       cpus_per_worker=args.cpus_per_worker, cache=cache)
    try:
        yield engine
    finally:
        engine.close()
