"""How many CPUs this process may use: its affinity mask (what `taskset`, cgroups' cpusets and
container runtimes narrow), not the machine's count."""
from __future__ import annotations

import os

__all__ = ["available_cpus", "stage_threads"]


def available_cpus() -> int:
    """CPUs in this process's affinity mask (the machine's count where the platform has no mask)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # macOS, Windows
        return max(1, os.cpu_count() or 1)


def stage_threads(asked: int) -> int:
    """Threads for a pipeline stage: `asked` when positive, else every available CPU."""
    return asked if asked > 0 else available_cpus()
