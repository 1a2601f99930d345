"""Two ways to drive a target for a bounded time: atheris (libFuzzer, coverage-guided, in a
subprocess) or the built-in random mutator (in process, no extra dependency)."""
from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import time
from pathlib import Path

from tools.fuzz.harness import Findings
from tools.fuzz.jsonmutate import mutate_json
from tools.fuzz.mutate import mutate
from tools.fuzz.targets import Spec

REPO = Path(__file__).resolve().parents[2]
MAX_RESTARTS = 20  # worker restarts after a native crash, hang or memory blow-up


def have_atheris() -> bool:
    try:
        import atheris  # noqa: F401
    except ImportError:
        return False
    return True


def write_corpus(directory: Path, seeds: dict[str, bytes]) -> None:
    """Seed files into a libFuzzer corpus directory (which it extends with new-coverage inputs)."""
    directory.mkdir(parents=True, exist_ok=True)
    for name, data in seeds.items():
        (directory / f"seed-{name}").write_bytes(data)


def dictionary_text(tokens: tuple[bytes, ...]) -> str:
    """libFuzzer -dict file content: one quoted token a line, every byte escaped."""
    return "".join('"' + "".join(f"\\x{b:02x}" for b in token) + '"\n' for token in tokens)


def run_random(spec: Spec, seeds: dict[str, bytes], findings: Findings, *, seconds: float | None = None,
               runs: int | None = None, seed: int = 0) -> int:
    """Seeds first, then random mutations of the corpus until `seconds` or `runs`; returns the corpus size.
    Inputs that end in a way not seen before (a new error kind) join the corpus."""
    rng = random.Random(seed)
    corpus = list(seeds.values()) or [b""]
    seen: set[str] = set()
    deadline = None if seconds is None else time.monotonic() + seconds
    for data in list(corpus):
        seen.add(findings.run(spec.fn, data))
    while (runs is None or findings.executions < runs) and (deadline is None or time.monotonic() < deadline):
        parent = rng.choice(corpus)
        tree = mutate_json(parent, rng, spec.json_keys) if spec.json_keys and rng.random() < 0.5 else None
        data = tree if tree is not None else mutate(parent, rng, corpus, spec.tokens, spec.max_len)
        outcome = findings.run(spec.fn, data)
        if outcome not in seen and len(corpus) < 1000:
            seen.add(outcome)
            corpus.append(data)
    return len(corpus)


def run_atheris(spec: Spec, seeds: dict[str, bytes], findings: Findings, workdir: Path, *,
                seconds: float | None = None, runs: int | None = None, log=None) -> int:
    """libFuzzer via atheris in worker subprocesses (restarted after a native crash, timeout or
    out-of-memory, each saved by libFuzzer under the crash directory); returns the corpus size."""
    corpus = workdir / "corpus" / spec.name
    write_corpus(corpus, seeds)
    dict_file = workdir / f"{spec.name}.dict"
    dict_file.write_text(dictionary_text(spec.tokens))
    findings.crash_dir.mkdir(parents=True, exist_ok=True)
    deadline = None if seconds is None else time.monotonic() + seconds
    left_runs = runs
    for session in range(MAX_RESTARTS + 1):
        stats = workdir / f"{spec.name}.stats-{session}.json"
        stats.unlink(missing_ok=True)
        cmd = [sys.executable, "-m", "tools.fuzz.worker", spec.name, str(stats), str(findings.crash_dir)]
        if deadline is not None:
            cmd += ["--seconds", f"{max(1.0, deadline - time.monotonic()):.1f}"]
        if left_runs is not None:
            cmd += ["--runs", str(left_runs)]
        cmd += ["--", str(corpus), f"-dict={dict_file}", f"-max_len={spec.max_len}", "-timeout=30",
                "-rss_limit_mb=4096", f"-artifact_prefix={findings.crash_dir}{os.sep}", "-print_final_stats=1"]
        before = set(findings.crash_dir.glob("*"))
        env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO), str(REPO / "src"), os.environ.get("PYTHONPATH", "")]))
        proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, errors="replace")
        if log is not None:
            log.write(proc.stdout + proc.stderr)
        if stats.exists():
            findings.merge(json.loads(stats.read_text()))
        if runs is not None:
            left_runs = max(0, runs - findings.executions)
        native = [p for p in set(findings.crash_dir.glob("*")) - before
                  if p.name.split("-")[0] in ("crash", "timeout", "oom", "leak", "slow")]
        for artifact in native:
            _record_native(findings, artifact, proc.stderr)
        finished = (deadline is not None and time.monotonic() >= deadline - 1) or left_runs == 0
        if proc.returncode == 0 or finished:
            break
        if not native:
            raise RuntimeError(f"fuzz worker for {spec.name} failed (exit {proc.returncode}):\n{proc.stderr[-3000:]}")
    return sum(1 for _ in corpus.iterdir())


def _record_native(findings: Findings, artifact: Path, stderr: str) -> None:
    """A libFuzzer artifact (the process died: signal, hang, memory) as a finding."""
    kind = artifact.name.split("-")[0]
    lines = [line for line in stderr.splitlines() if "ERROR: libFuzzer" in line or "==ERROR" in line
             or "Timeout" in line or "out-of-memory" in line]
    sig = f"libFuzzer {kind}: {lines[0].split(':', 2)[-1].strip() if lines else 'see log'}"
    findings.crashing_inputs += 1
    entry = findings.crashes.setdefault(sig, {"signature": sig, "kind": kind, "message": "\n".join(lines[:3]),
                                              "input": str(artifact), "bytes": artifact.stat().st_size, "count": 0})
    entry["count"] += 1
