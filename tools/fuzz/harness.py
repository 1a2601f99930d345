"""Run one target on one input and classify what happened: fine, or a crash worth saving."""
from __future__ import annotations

import hashlib
import os
import re
import traceback
import warnings
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from vidsim.errors import CacheWriteWarning, DecodeErrorWarning, TruncatedVideoWarning, VidsimError

Target = Callable[[bytes], None]

# Exceptions a reader may raise on bad input; anything else escaping a target is a bug (a target
# may translate a documented report of bad input into one, see targets.DamageReported).
EXPECTED: tuple[type[BaseException], ...] = (VidsimError,)
# Warnings vidsim declares for damaged input; others are counted and reported, not crashes.
DECLARED_WARNINGS: tuple[type[Warning], ...] = (TruncatedVideoWarning, DecodeErrorWarning, CacheWriteWarning)
_SRC = os.sep + os.path.join("src", "vidsim") + os.sep


@dataclass(frozen=True)
class Crash:
    """An unexpected exception: its signature (type and where in vidsim it was raised) and traceback."""

    signature: str
    kind: str
    message: str
    traceback: str


def signature(exc: BaseException) -> tuple[str, str]:
    """(signature, where): exception type plus the innermost vidsim frame (else the innermost frame)."""
    frames = traceback.extract_tb(exc.__traceback__)
    ours = [f for f in frames if _SRC in f.filename]
    if not frames:
        return type(exc).__name__, "?"
    frame = (ours or frames)[-1]
    name = frame.filename.split(_SRC, 1)[-1] if _SRC in frame.filename else os.path.basename(frame.filename)
    where = f"{name}:{frame.lineno} ({frame.name})"
    return f"{type(exc).__name__} at {where}", where


_DIGITS = re.compile(r"\d+")


def outcome_of(exc: BaseException | None) -> str:
    """A coarse label of how an input ended ("ok", or the error type and message shape): the
    random engine keeps inputs that end in a way not seen before."""
    if exc is None:
        return "ok"
    message = _DIGITS.sub("N", str(exc).split(": ", 1)[-1])[:60]
    return f"{type(exc).__name__}: {message}"


def run_one(target: Target, data: bytes, warned: Counter | None = None) -> tuple[str, Crash | None]:
    """(outcome, None) when `target(data)` returns or raises a VidsimError; (outcome, Crash) otherwise."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            target(data)
            outcome = outcome_of(None)
        except EXPECTED as exc:
            outcome = outcome_of(exc)
        except (KeyboardInterrupt, SystemExit):
            raise
        except BaseException as exc:  # noqa: BLE001 - every other exception is the finding
            sig, _ = signature(exc)
            text = "".join(traceback.format_exception(exc))
            return "crash: " + sig, Crash(sig, type(exc).__name__, str(exc)[:300], text)
    if warned is not None:
        for w in caught:
            if not issubclass(w.category, DECLARED_WARNINGS):
                warned[f"{w.category.__name__}: {str(w.message)[:120]}"] += 1
    return outcome, None


@dataclass
class Findings:
    """Executions, unique crashes (first input of each signature saved) and undeclared warnings."""

    target: str
    crash_dir: Path
    executions: int = 0
    crashes: dict[str, dict] = field(default_factory=dict)
    crashing_inputs: int = 0
    warnings: Counter = field(default_factory=Counter)

    def run(self, fn: Target, data: bytes) -> str:
        """Run one input, record a crash; returns the outcome label."""
        self.executions += 1
        outcome, crash = run_one(fn, data, self.warnings)
        if crash is not None:
            self.record(crash, data)
        return outcome

    def record(self, crash: Crash, data: bytes) -> None:
        self.crashing_inputs += 1
        if crash.signature in self.crashes:
            self.crashes[crash.signature]["count"] += 1
            return
        digest = hashlib.sha1(data).hexdigest()[:12]
        self.crash_dir.mkdir(parents=True, exist_ok=True)
        stem = self.crash_dir / f"py-{digest}"  # libFuzzer names its own crash-*, timeout-*, oom-*
        stem.with_suffix(".bin").write_bytes(data)
        stem.with_suffix(".txt").write_text(crash.traceback)
        self.crashes[crash.signature] = {
            "signature": crash.signature, "kind": crash.kind, "message": crash.message,
            "input": str(stem.with_suffix(".bin")), "bytes": len(data), "count": 1,
        }

    def merge(self, other: dict) -> None:
        """Add the counts of another session's `to_dict()` (a restarted worker) to these."""
        self.executions += other["executions"]
        self.crashing_inputs += other["crashing_inputs"]
        for crash in other["crashes"]:
            mine = self.crashes.setdefault(crash["signature"], dict(crash, count=0))
            mine["count"] += crash["count"]
        self.warnings.update(other.get("warnings", {}))

    def to_dict(self) -> dict:
        return {
            "target": self.target,
            "executions": self.executions,
            "crashing_inputs": self.crashing_inputs,
            "crashes": list(self.crashes.values()),
            "warnings": dict(self.warnings.most_common(20)),
        }
