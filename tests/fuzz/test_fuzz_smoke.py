"""CI smoke of the fuzz harnesses (tools/fuzz): each target on its seeds plus random mutations,
in process (no extra dependency); and a short atheris (libFuzzer) session when atheris is installed."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
from tools.fuzz import report
from tools.fuzz.engines import have_atheris, run_random
from tools.fuzz.harness import Findings, run_one
from tools.fuzz.targets import TARGETS

from vidsim.errors import ConfigError, TruncatedVideoWarning

ROOT = Path(__file__).resolve().parents[2]
RUNS = 200


def _crash_report(findings: Findings) -> str:
    return "\n".join(f"{c['signature']} x{c['count']}: {c['message']} ({c['input']})" for c in findings.crashes.values())


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_each_target_survives_its_seeds_and_random_mutations(name, tmp_path):
    spec = TARGETS[name]
    seeds = spec.make_seeds(tmp_path / "seeds")
    assert len(seeds) >= 3  # real inputs of the kind, plus damaged variants
    findings = Findings(name, tmp_path / "crashes")
    run_random(spec, seeds, findings, runs=RUNS, seed=1)
    assert findings.executions == RUNS
    assert not findings.crashes, _crash_report(findings)


def test_the_seeds_are_read_without_error(tmp_path):
    """The undamaged seeds are valid inputs: the harness reads them to the end, so mutations
    start from inputs that reach the deep code, not from ones rejected at the first byte."""
    for name in ("groundtruth", "config", "catalog"):
        spec = TARGETS[name]
        for seed_name, data in spec.make_seeds(tmp_path / name).items():
            if not seed_name.startswith(("cut", "flip")):
                assert run_one(spec.fn, data) == ("ok", None), (name, seed_name)
    decode = TARGETS["decode"].make_seeds(tmp_path / "decode")
    assert run_one(TARGETS["decode"].fn, decode["h264.mp4"]) == ("ok", None)


def test_only_vidsim_errors_and_declared_warnings_pass():
    def vidsim_error(data: bytes) -> None:
        raise ConfigError("bad input")

    def declared_warning(data: bytes) -> None:
        warnings.warn("cut off", TruncatedVideoWarning, stacklevel=2)

    def key_error(data: bytes) -> None:
        {}["missing"]

    assert run_one(vidsim_error, b"")[1] is None
    assert run_one(declared_warning, b"") == ("ok", None)
    outcome, crash = run_one(key_error, b"")
    assert crash is not None and crash.kind == "KeyError" and "test_fuzz_smoke.py" in crash.signature


def test_crashing_inputs_are_saved_once_per_signature(tmp_path):
    findings = Findings("t", tmp_path)
    for data in (b"a", b"b"):
        findings.run(lambda d: int("x"), data)
    assert findings.crashing_inputs == 2 and len(findings.crashes) == 1
    (crash,) = findings.crashes.values()
    assert Path(crash["input"]).read_bytes() == b"a" and crash["count"] == 2
    assert "ValueError" in Path(crash["input"]).with_suffix(".txt").read_text()


def test_results_file_keeps_its_hand_written_parts(tmp_path):
    path = tmp_path / "fuzz.md"
    result = {"target": "config", "engine": "random", "seconds": 2.0, "executions": 10, "corpus": 3, "seeds": 3,
              "crashing_inputs": 0, "crashes": [], "warnings": {}}
    meta = {"date": "2026-01-01", "engine": "random", "cpus": 2, "command": "python -m tools.fuzz"}
    report.update(path, meta, [result])
    path.write_text(path.read_text() + "\n| crash | fix |\n")
    report.update(path, dict(meta, date="2026-01-02"), [dict(result, executions=20)])
    text = path.read_text()
    assert "| 2026-01-01 | config | random | 2 | 10 |" in text and "| 2026-01-02 | config | random | 2 | 20 |" in text
    assert "| crash | fix |" in text and text.count("**config**: 20 executions") == 1


@pytest.mark.skipif(not have_atheris(), reason="atheris is not installed (pip install -e '.[fuzz]'; wheels for "
                    "Linux x86_64 only)")
def test_atheris_session_runs_and_counts(tmp_path):
    """The libFuzzer engine end to end on the quickest target (each worker imports vidsim
    instrumented, which takes seconds); the in-process test above covers every target."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), str(ROOT / "src"), os.environ.get("PYTHONPATH", "")]))
    proc = subprocess.run([sys.executable, "-m", "tools.fuzz", "--engine", "atheris", "--runs", str(RUNS),
                           "--target", "groundtruth", "--workdir", str(tmp_path), "--no-results"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr[-3000:]
    (result,) = json.loads((tmp_path / "summary.json").read_text())["results"]
    assert result["target"] == "groundtruth" and result["engine"] == "atheris"
    assert result["executions"] >= RUNS and not result["crashes"], result
    assert len(list((tmp_path / "corpus" / "groundtruth").iterdir())) >= result["seeds"]
