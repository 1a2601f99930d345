"""The Ray engine: videos decoded and embedded by Ray actors, each holding one feature extractor
(built once from the run's configuration, on a GPU with `gpus_per_worker`), results streamed back
as they finish; the caller stays the only writer of the index or the output directory.

Design: plain Ray actors driven with `ray.wait`, not Ray Data's actor pools. A video is one
task with one result (its features, or why it has none), so what Ray Data adds (blocks, Arrow
conversion of the feature arrays, its own backpressure) buys nothing here, while the failure
rule wanted is per video: a worker that dies costs only its in-flight videos, retried once (the
video it was running is charged an attempt, those queued behind it are not), then reported as
failed while the batch goes on. Ray Data retries tasks on its own terms and fails the whole
dataset when retries run out. Here each actor is given at most `queue_depth` videos at a time
(one running, one waiting, so that it never idles while the caller commits a result), a dead
actor is replaced by a new one, and a worker's own errors (an unreadable video) come back as
values, never retried. Warnings a worker raises (a truncated video) are raised again here.

Without an address a local Ray is started (and stopped by `close`); with one, the same code runs
on an existing cluster, whose workers must have vidsim installed and read the files at the paths
given (shared storage). A Ray already initialised in this process is used as it is.
"""
from __future__ import annotations

import dataclasses
import logging
import math
import os
import warnings
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vidsim.config import VidsimConfig
from vidsim.engine.base import Embedded, Engine
from vidsim.errors import EngineError, VideoError, VideoNotFoundError
from vidsim.features.types import VideoFeatures

INSTALL_HINT = "pip install 'vidsim[ray]'"


def import_ray() -> Any:
    """The `ray` module; EngineError naming the extra to install when it is missing."""
    try:
        import ray
    except ImportError as exc:
        raise EngineError(f"--engine ray needs Ray, which is not installed ({exc}); {INSTALL_HINT}") from None
    return ray


class Worker:
    """What one Ray actor holds: a feature extractor and its decode-ahead thread."""

    def __init__(self, config: VidsimConfig, device: str):
        from vidsim.features import FeatureExtractor

        self.extractor = FeatureExtractor(config.features, device)
        self.decode = config.decode
        self.key = self.extractor.feature_key(config.decode)
        self._ahead = None
        if config.decode.prefetch > 0:
            from vidsim.decode import DecodeAhead

            self._ahead = DecodeAhead(config.decode)

    def ready(self) -> tuple[str, int, int]:
        """(feature key, dims, process id): what the driver checks, and whom to blame."""
        return self.key, self.extractor.dims, os.getpid()

    def embed(self, path: str) -> tuple[VideoFeatures | None, str, list[tuple[type[Warning], str]]]:
        """(features, "", warnings) or (None, why, warnings): a video's own error is a value, not a failure."""
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                features: VideoFeatures | None = self.extractor.extract_video(path, self.decode, None, self._ahead)
                error = ""
            except VideoNotFoundError as exc:  # read by the driver, which hashed it, but not here
                features, error = None, f"{exc.reason} on the Ray worker's node (workers read the files at the " \
                                        "paths given: keep them on storage every node mounts at the same path)"
            except VideoError as exc:
                features, error = None, exc.reason
            except Exception as exc:  # noqa: BLE001 - reported for this video; the batch goes on
                features, error = None, f"worker error ({type(exc).__name__}: {exc})"
        return features, error, [(w.category, str(w.message)) for w in caught]


@dataclass
class _Slot:
    """One worker place: its current actor (replaced when it dies) and the tasks it was given, oldest first."""

    actor: Any
    generation: int = 0
    pid: int | None = None
    pending: list[Any] = field(default_factory=list)


@dataclass(frozen=True)
class _Task:
    slot: int
    generation: int
    path: Path | None  # None: the actor's `ready` call
    attempts: int  # times a worker died while running it


class RayEngine(Engine):
    """`workers` Ray actors embedding videos (see the module docstring)."""

    name = "ray"

    def __init__(self, config: VidsimConfig, workers: int = 2, address: str | None = None,
                 gpus_per_worker: float = 0.0, cpus_per_worker: float = 1.0, cache: Any = None,
                 retries: int = 1, queue_depth: int = 2, start_timeout: float = 300.0):
        super().__init__(cache)
        if workers < 1:
            raise EngineError(f"--workers must be at least 1, got {workers}")
        if gpus_per_worker < 0 or cpus_per_worker <= 0:
            raise EngineError("--gpus-per-worker must be 0 or more and --cpus-per-worker more than 0")
        self._ray = ray = import_ray()
        self.workers, self.address, self.retries = workers, address, retries
        self.gpus_per_worker, self.cpus_per_worker = gpus_per_worker, cpus_per_worker
        self.queue_depth, self.start_timeout = max(1, queue_depth), start_timeout
        self._started_ray = False
        self._slots: list[_Slot] = []
        self._tasks: dict[Any, _Task] = {}
        self._connect()
        threads = max(1, math.ceil(cpus_per_worker))
        features, decode = config.features, config.decode
        self._config = dataclasses.replace(  # threads are volatile fields: the features do not change
            config, features=dataclasses.replace(features, threads=features.threads or threads),
            decode=dataclasses.replace(decode, threads=decode.threads or threads))
        self._device = "cuda" if gpus_per_worker > 0 else "cpu"
        self._actor_class = ray.remote(Worker).options(
            num_cpus=cpus_per_worker, num_gpus=gpus_per_worker, max_restarts=0, max_task_retries=0)
        try:
            self._slots = [_Slot(self._new_actor()) for _ in range(workers)]
            self._key, self._dims = self._await_ready()
        except BaseException:
            self.close()
            raise

    # --- starting and stopping -----------------------------------------------------------
    def _connect(self) -> None:
        ray = self._ray
        if ray.is_initialized():
            return
        try:
            if self.address:
                _check_reachable(self.address)
                ray.init(address=self.address, log_to_driver=False, logging_level=logging.WARNING)
            else:
                ray.init(address="local", num_cpus=max(1, math.ceil(self.workers * self.cpus_per_worker)),
                         include_dashboard=False, log_to_driver=False, logging_level=logging.WARNING)
                self._started_ray = True
        except EngineError:
            raise
        except Exception as exc:  # connection refused, bad address, no resources
            where = f"the Ray cluster at {self.address}" if self.address else "a local Ray"
            raise EngineError(f"cannot start {where}: {_short(exc)}") from None

    def _new_actor(self) -> Any:
        return self._actor_class.remote(self._config, self._device)

    def _await_ready(self) -> tuple[str, int]:
        ray = self._ray
        refs = [slot.actor.ready.remote() for slot in self._slots]
        done, _ = ray.wait(refs, num_returns=len(refs), timeout=self.start_timeout)
        if len(done) < len(refs):
            raise EngineError(f"{self.describe()}: only {len(done)} of {len(refs)} workers started within "
                              f"{self.start_timeout:g} s; the cluster lacks the CPUs or GPUs asked for "
                              f"({self._resources()} each): ask for fewer workers or add nodes")
        try:
            answers = ray.get(refs)
        except Exception as exc:  # the creation task failed: the extractor cannot be built there
            raise EngineError(f"{self.describe()}: a worker could not build the feature extractor: {_short(exc)}") from None
        keys = {(key, dims) for key, dims, _ in answers}
        if len(keys) > 1:
            raise EngineError(f"{self.describe()}: the workers make different features ({sorted(keys)}); install the "
                              "same vidsim, runtimes and weights on every node")
        for slot, (_, _, pid) in zip(self._slots, answers):
            slot.pid = pid
        key, dims = keys.pop()
        return key, dims

    def close(self) -> None:
        ray = self._ray
        for slot in self._slots:
            try:
                ray.kill(slot.actor)
            except Exception:  # noqa: BLE001 - already gone
                pass
        self._slots, self._tasks = [], {}
        if self._started_ray and ray.is_initialized():
            ray.shutdown()
        self._started_ray = False

    # --- what it is ----------------------------------------------------------------------
    @property
    def feature_key(self) -> str:
        return self._key

    @property
    def dims(self) -> int:
        return self._dims

    def _resources(self) -> str:
        gpus = f", {self.gpus_per_worker:g} GPU" if self.gpus_per_worker else ""
        return f"{self.cpus_per_worker:g} CPU{gpus}"

    def describe(self) -> str:
        where = f"the cluster at {self.address}" if self.address else "a local Ray"
        return f"Ray engine ({self.workers} workers of {self._resources()} on {where})"

    def running(self) -> dict[int, Path]:
        """The video each worker is embedding (the oldest it was given), by worker process id."""
        out = {}
        for slot in self._slots:
            task = self._tasks.get(slot.pending[0]) if slot.pending else None
            if slot.pid is not None and task is not None and task.path is not None:
                out[slot.pid] = task.path
        return out

    # --- the work --------------------------------------------------------------------------
    def _run(self, paths: Iterator[Path]) -> Iterator[Embedded]:
        ray = self._ray
        queue: deque[tuple[Path, int]] = deque()  # videos to run again, before new ones
        self._fill(queue, paths)
        while self._tasks:
            only_starting = all(task.path is None for task in self._tasks.values())
            done, _ = ray.wait(list(self._tasks), num_returns=1, timeout=self.start_timeout if only_starting else None)
            if not done:
                raise EngineError(f"{self.describe()}: no worker could be started again within "
                                  f"{self.start_timeout:g} s after workers died; the videos left were not embedded")
            ref = done[0]
            task = self._tasks.pop(ref)
            results = self._collect(ref, task, self._slots[task.slot], queue)
            self._fill(queue, paths)
            yield from results

    def _fill(self, queue: deque[tuple[Path, int]], paths: Iterator[Path]) -> None:
        """Give each started worker videos (those to run again first) until it holds `queue_depth` of them."""
        for index, slot in enumerate(self._slots):
            while slot.pid is not None and len(slot.pending) < self.queue_depth:
                if queue:
                    path, attempts = queue.popleft()
                else:
                    following = next(paths, None)
                    if following is None:
                        return
                    path, attempts = following, 0
                ref = slot.actor.embed.remote(os.fspath(path))
                self._tasks[ref] = _Task(index, slot.generation, path, attempts)
                slot.pending.append(ref)

    def _collect(self, ref: Any, task: _Task, slot: _Slot, queue: deque[tuple[Path, int]]) -> list[Embedded]:
        """The outcome of one finished task: a result, or (its worker dead) the retries it calls for."""
        ray = self._ray
        try:
            answer = ray.get(ref)
        except ray.exceptions.RayActorError as exc:
            return self._worker_died(ref, task, slot, queue, exc)
        except ray.exceptions.RayError as exc:
            slot.pending.remove(ref)
            if task.path is None:
                raise EngineError(f"{self.describe()}: a worker could not start: {_short(exc)}") from None
            if isinstance(exc, ray.exceptions.ObjectLostError):  # done, but the node holding the result is gone
                return self._retry(task.path, task.attempts + 1, queue, exc)
            return [Embedded(task.path, None, f"worker error ({_short(exc)})", task.attempts + 1)]
        slot.pending.remove(ref)
        if task.path is None:  # a replacement worker is ready
            key, dims, pid = answer
            if (key, dims) != (self._key, self._dims):
                raise EngineError(f"{self.describe()}: a restarted worker makes other features ({key}, {dims}-d)")
            slot.pid = pid
            return []
        features, error, caught = answer
        for category, message in caught:
            warnings.warn(message, category, stacklevel=2)
        return [Embedded(task.path, features, error, task.attempts + 1)]

    def _worker_died(self, ref: Any, task: _Task, slot: _Slot, queue: deque[tuple[Path, int]],
                     exc: Exception) -> list[Embedded]:
        """Replace the dead actor; the video it was running (the oldest it was given: an actor runs its
        tasks in order) is charged an attempt, those queued behind it are not."""
        if task.path is None:
            raise EngineError(f"{self.describe()}: a restarted worker could not start: {_short(exc)}") from None
        lost = [task if other == ref else self._tasks.pop(other) for other in slot.pending]  # in the order given
        slot.pending.clear()
        running, queued = lost[0], lost[1:]
        for other in reversed(queued):
            if other.path is not None:
                queue.appendleft((other.path, other.attempts))
        assert running.path is not None
        results = self._retry(running.path, running.attempts + 1, queue, exc)
        if slot.generation == task.generation:
            try:
                self._ray.kill(slot.actor)
            except Exception:  # noqa: BLE001 - already gone
                pass
            slot.actor, slot.generation, slot.pid = self._new_actor(), slot.generation + 1, None
            ready = slot.actor.ready.remote()
            self._tasks[ready] = _Task(self._slots.index(slot), slot.generation, None, 0)
            slot.pending.append(ready)
        return results

    def _retry(self, path: Path, attempts: int, queue: deque[tuple[Path, int]], exc: Exception) -> list[Embedded]:
        """Run `path` again (first in line) while it has retries left; else its failure."""
        if attempts <= self.retries:
            queue.appendleft((path, attempts))
            return []
        times = "once" if attempts == 1 else f"{attempts} times"
        return [Embedded(path, None, f"its Ray worker died while embedding it, {times} ({_short(exc)})", attempts)]


def _check_reachable(address: str, timeout: float = 5.0) -> None:
    """EngineError at once when nothing listens at a host:port address (Ray itself retries for minutes)."""
    import socket

    where = address.split("://", 1)[-1]
    host, _, port = where.rpartition(":")
    if not host or not port.isdigit():
        return  # "auto" and other forms: left to Ray
    try:
        socket.create_connection((host, int(port)), timeout=timeout).close()
    except OSError as exc:
        raise EngineError(f"no Ray cluster answers at {address} ({exc.strerror or exc}); start one there "
                          "(`ray start --head`) or leave out --ray-address for a local Ray") from None


def _short(exc: BaseException) -> str:
    """An exception in one line: Ray's long messages cut to their first line that says something."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    text = next((line for line in reversed(lines) if "Error" in line and ":" in line), lines[0] if lines else "")
    text = text or type(exc).__name__
    return text if len(text) <= 300 else text[:297] + "..."

