"""`index add` and `vidsim extract` with Ray workers (one local Ray for the module, 2 workers):
the same index as the in-process add; a worker killed with SIGKILL mid-add costs only its
video, retried once, then reported as failed, while the batch goes on and nothing committed is lost."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from test_engines import contents

ray = pytest.importorskip("ray", reason="Ray is not installed (the ray extra: pip install 'vidsim[ray]')")

from vidsim.index import Index, check_index  # noqa: E402
from vidsim.synth import make_clip  # noqa: E402

SRC = Path(__file__).resolve().parents[2] / "src"


@pytest.fixture(scope="module")
def ray_address():
    """A local Ray for this module (3 logical CPUs: the module's 2 workers and one for the CLI's)."""
    previous = os.environ.get("RAY_AUTH_MODE")
    os.environ["RAY_AUTH_MODE"] = "disabled"
    context = ray.init(address="local", num_cpus=3, include_dashboard=False, log_to_driver=False)
    try:
        yield context.address_info["address"]
    finally:
        ray.shutdown()
        if previous is None:
            os.environ.pop("RAY_AUTH_MODE", None)
        else:
            os.environ["RAY_AUTH_MODE"] = previous


@pytest.fixture(scope="module")
def engine(ray_address, model):
    from vidsim.engine import RayEngine

    with RayEngine(model.config, workers=2) as engine:
        yield engine


@pytest.fixture(scope="module")
def long_clips(tmp_path_factory) -> dict[str, Path]:
    """Two clips long enough to be caught while a worker embeds them."""
    root = tmp_path_factory.mktemp("ray-clips")
    return {name: make_clip(root / f"{name}.mp4", seconds=40, size=(160, 120), seed=seed)
            for name, seed in (("once", 31), ("twice", 32))}


def test_ray_add_builds_the_in_process_index(tmp_path, engine, model, feature_cache, index_clips, query_features):
    paths = [index_clips["videos"], index_clips["broken"]]
    with Index.open(tmp_path / "here", model=model, cache=feature_cache) as here:
        expected = here.add(paths)
        held = contents(here)
        results = {name: here.search(query_features[name], top_k=3) for name in ("copy", "unrelated")}
    events = []
    with Index.open(tmp_path / "ray", model=model) as index:
        report = index.add(paths, progress=events.append, engine=engine)
        got = contents(index)
        found = {name: index.search(query_features[name], top_k=3) for name in ("copy", "unrelated")}
    assert sorted(r.path for r in report.added) == sorted(r.path for r in expected.added) and len(report.added) == 3
    assert report.failed == expected.failed and len(report.failed) == 1
    assert got.keys() == held.keys()
    for path in held:
        assert got[path][:3] == held[path][:3]
        np.testing.assert_allclose(got[path][3], held[path][3], atol=1e-6, err_msg=path)
        np.testing.assert_array_equal(got[path][4], held[path][4])
    for name in results:
        assert [m.path for m in found[name]] == [m.path for m in results[name]]
        np.testing.assert_allclose([m.similarity for m in found[name]], [m.similarity for m in results[name]], atol=1e-6)
    assert events[-1].videos_done == events[-1].videos_total == 4
    assert sum(e.event == "frames" for e in events) == 3 and events[-1].frames == sum(r.frames for r in report.added)


def test_killed_worker_costs_only_its_video(tmp_path, engine, model, index_clips, long_clips):
    """`once` loses its worker once (retried: added), `twice` on both tries (reported failed)."""
    kills = {long_clips["once"]: 1, long_clips["twice"]: 2}
    killed: list[int] = []
    stop = threading.Event()

    def killer() -> None:  # kill -9 of whichever worker process embeds a victim, as often as it is due
        while not stop.is_set():
            for pid, path in engine.running().items():
                if kills.get(path, 0) > 0 and pid not in killed:
                    os.kill(pid, signal.SIGKILL)
                    killed.append(pid)
                    kills[path] -= 1
            time.sleep(0.005)

    paths = [index_clips["a"], long_clips["once"], long_clips["twice"], index_clips["b"], index_clips["c"]]
    thread = threading.Thread(target=killer, daemon=True)
    thread.start()
    try:
        with Index.open(tmp_path / "idx", model=model) as index:
            report = index.add(paths, engine=engine)
    finally:
        stop.set()
        thread.join()
    assert len(killed) == 3 and all(left == 0 for left in kills.values())
    assert [p for p, _ in report.failed] == [str(long_clips["twice"])]
    assert "worker died while embedding it, 2 times" in report.failed[0][1]
    assert sorted(r.path for r in report.added) == sorted(str(p) for p in paths if p != long_clips["twice"])
    assert check_index(tmp_path / "idx").ok
    with Index.open(tmp_path / "idx") as index:
        held = contents(index)
    assert sorted(held) == sorted(r.path for r in report.added)
    assert held[str(long_clips["once"])][1] == 40  # the retried video, whole


def test_extract_cli_on_the_cluster(tmp_path, ray_address, model, index_clips):
    """`vidsim extract --engine ray --ray-address` runs on an existing cluster (this module's)."""
    from vidsim.store import load_features

    out = tmp_path / "features"
    env = {**os.environ, "PYTHONPATH": str(SRC), "RAY_AUTH_MODE": "disabled"}
    run = subprocess.run([sys.executable, "-m", "vidsim", "extract", str(index_clips["a"]), str(index_clips["broken"]),
                          "--out", str(out), "--engine", "ray", "--workers", "1", "--ray-address", ray_address,
                          "--no-cache", "-q"], capture_output=True, text=True, env=env, timeout=300)
    assert run.returncode == 2, run.stderr  # one video failed
    assert f"error: {index_clips['broken']}" in run.stderr
    features = load_features(out / "a.safetensors")
    expected = model.extract_video(index_clips["a"])
    assert features.feature_key == expected.feature_key
    np.testing.assert_allclose(features.regions, expected.regions, atol=1e-6)
    assert (out / "manifest.csv").read_text().count("\n") == 2  # header and a


def test_no_cluster_at_the_address_is_one_line(tmp_path, index_clips):
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    run = subprocess.run([sys.executable, "-m", "vidsim", "extract", str(index_clips["a"]), "--out", str(tmp_path / "f"),
                          "--engine", "ray", "--ray-address", "127.0.0.1:1", "-q"],
                         capture_output=True, text=True, env=env, timeout=120)
    assert run.returncode == 1
    assert run.stderr.strip().splitlines()[-1].startswith("error: no Ray cluster answers at 127.0.0.1:1")
