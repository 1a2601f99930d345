"""`ServeSettings`: what `vidsim serve` was started with, checked once (ConfigError naming the
option), so that the app and its tests are built from one value."""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from vidsim.cpus import available_cpus
from vidsim.errors import ConfigError

MB = 1 << 20


@dataclass(frozen=True)
class ServeSettings:
    index: Path  # the index directory
    host: str = "127.0.0.1"
    port: int = 8000
    api_keys: Path | None = None  # one key per line; None: no keys, loopback only
    max_upload_mb: float = 512.0  # largest upload taken, checked while it streams (413 beyond)
    allow_roots: tuple[Path, ...] = ()  # directories whose files may be named by path
    max_searches: int = field(default_factory=available_cpus)  # searches run at once
    search_queue: int | None = None  # searches waiting for a slot, then 503 (None: 2 x max_searches)
    queue_wait_s: float = 60.0  # longest a waiting search waits for a slot before 503
    retry_after_s: int = 5  # the Retry-After of 503 and 409 answers
    add_wait_s: float = 5.0  # an add or remove done within this answers at once, else 202 and a job
    create: bool = False  # create an empty index when `index` holds none
    spool_dir: Path | None = None  # parent of the private upload directory (None: the system's temporary dir)
    jobs_kept: int = 1000  # finished jobs remembered for GET /v1/jobs/{id}

    def __post_init__(self) -> None:
        if not 0 < self.max_upload_mb <= 1 << 20:
            raise ConfigError(f"--max-upload-mb {self.max_upload_mb:g}: give a size in MB above 0")
        if not 0 <= self.port < 65536:
            raise ConfigError(f"--port {self.port}: give a port between 1 and 65535 (0: any free port)")
        if self.max_searches < 1:
            raise ConfigError(f"--max-searches {self.max_searches}: at least 1")
        if self.search_queue is not None and self.search_queue < 0:
            raise ConfigError(f"--search-queue {self.search_queue}: 0 or more")
        if self.add_wait_s < 0 or self.queue_wait_s < 0:
            raise ConfigError("waiting times are 0 s or more")
        for root in self.allow_roots:
            if not Path(root).is_dir():
                raise ConfigError(f"--allow-root {root}: no such directory")
        if self.spool_dir is not None and not os.access(self.spool_dir, os.W_OK | os.X_OK):
            raise ConfigError(f"--spool-dir {self.spool_dir}: not a writable directory")

    @property
    def max_upload_bytes(self) -> int:
        return int(self.max_upload_mb * MB)

    @property
    def queue_size(self) -> int:
        return 2 * self.max_searches if self.search_queue is None else self.search_queue

    @property
    def threads_per_search(self) -> int:
        """Inference threads of each search's model: the CPUs shared among the searches run at once."""
        return max(1, available_cpus() // self.max_searches)
