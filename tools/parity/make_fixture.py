"""Build the ViSiL parity fixture (tests/fixtures/visil_parity.npz) from the OFFICIAL ViSiL code.

This script is ours; it only *imports* the official PyTorch implementation (MKLab-ITI/visil,
branch ``pytorch``) from a scratch checkout outside this repository. No official code is
copied here. It runs in its own virtualenv with torchvision (see tools/parity/README.md):

    /work/visil-ref-venv/bin/python tools/parity/make_fixture.py --official /tmp/visil-official

No network: the official weight URLs are dead, so the backbone, the PCA whitening and the
ViSiL heads are replaced by deterministic seeded weights from ``vidsim/features/seeded.py``
(loaded by file path, numpy only), which the vidsim tests can rebuild bit-for-bit.

Fixture keys (float32 unless noted; T_q = 4 query frames, T_t = 6 target frames, R = 9 regions):

    q_frames            uint8 [4, 224, 224, 3]   RGB query frames (seeded_frames(4, 224, seed=1))
    t_frames            uint8 [6, 224, 224, 3]   target: seeded_frames(3, 224, seed=2), query frames 1, 2
                                                 brightened by +12 (clipped), seeded_frames(1, 224, seed=3)
    -- full model: ViSiL(pretrained=True): 3840 dims, whitening, attention, comparator, non-symmetric
    q_regions           [4, 9, 3840]   query region vectors before PCA (L3-iMAC, L2 per layer + L2)
    q_features          [4, 9, 3840]   model.extract_features(q)  (PCA whitening + L2, then attention)
    t_features          [6, 9, 3840]   model.extract_features(t)
    f2f                 [4, 6]         model.calculate_f2f_matrix(q, t)   (Chamfer over regions)
    visil_output        [1, 1]         model.calculate_visil_output(q, t) (comparator, before Hardtanh)
    similarity          []             model.calculate_video_similarity(q, t)
    -- symmetric model: ViSiL(pretrained=True, symmetric=True): PCA to 512 dims, symmetric Chamfer
    q_features_sym      [4, 9, 512]
    t_features_sym      [6, 9, 512]
    f2f_sym             [4, 6]
    visil_output_sym    [1, 1]
    similarity_sym      []
    -- extra: comparator on a larger matrix (4x6 pools down to a single 1x1 cell)
    cmp_input           [16, 20]       a fixed f2f-like matrix in [-1, 1] (stored, not seeded)
    cmp_output          [4, 5]         full model   visil_head.visil_output(cmp_input)
    cmp_similarity      []             full model   v2v Chamfer(Hardtanh(cmp_output))
    cmp_output_sym      [4, 5]         symmetric model, same
    cmp_similarity_sym  []             symmetric model, same (symmetric Chamfer)
    -- metadata (unicode strings)
    meta_torch, meta_torchvision, meta_numpy, meta_official_commit, meta_date, meta_description

The batch dimension of every model output (always 1 here) is squeezed away.
"""
from __future__ import annotations

import argparse
import datetime as _dt
import importlib.util
import subprocess
import sys
from pathlib import Path

import numpy as np
import torch
import torchvision

REPO = Path(__file__).resolve().parents[2]
SEEDED_PATH = REPO / "src" / "vidsim" / "features" / "seeded.py"
DEFAULT_OUT = REPO / "tests" / "fixtures" / "visil_parity.npz"
DEFAULT_MIRROR = "/work/.mirror/MKLab-ITI+visil/repo"


def load_seeded(path: Path = SEEDED_PATH):
    spec = importlib.util.spec_from_file_location("vidsim_seeded", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def install_offline_weights(seeded) -> None:
    """Monkeypatch torchvision's resnet50 and torch.hub's URL loader with seeded weights."""
    original_resnet50 = torchvision.models.resnet50

    def resnet50(pretrained: bool = False, **kwargs):
        model = original_resnet50(weights=None, **kwargs)
        if pretrained:
            shapes = {k: tuple(v.shape) for k, v in model.state_dict().items()}
            state = {k: torch.from_numpy(v) for k, v in seeded.seeded_state_dict(shapes, seed=0).items()}
            model.load_state_dict(state, strict=True)
        return model

    def as_torch(d):
        return {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in d.items()}

    def load_state_dict_from_url(url, *args, **kwargs):
        name = url.rstrip("/").rsplit("/", 1)[-1]
        if name == "pca_resnet50_vcdb_1M.pth":
            return as_torch(seeded.seeded_whitening(3840, seed=0))
        if name == "visil.pth":
            return as_torch(seeded.seeded_head(3840, seed=0))
        if name == "visil_symmetric.pth":
            return as_torch(seeded.seeded_head(512, seed=0))
        raise RuntimeError(f"unexpected weight URL (no network here): {url}")

    torchvision.models.resnet50 = resnet50
    torch.hub.load_state_dict_from_url = load_state_dict_from_url


def make_frames(seeded) -> tuple[np.ndarray, np.ndarray]:
    q = seeded.seeded_frames(4, 224, seed=1)
    bright = np.clip(q[1:3].astype(int) + 12, 0, 255).astype(np.uint8)
    t = np.concatenate([seeded.seeded_frames(3, 224, seed=2), bright, seeded.seeded_frames(1, 224, seed=3)], 0)
    assert q.dtype == np.uint8 and q.shape == (4, 224, 224, 3)
    assert t.dtype == np.uint8 and t.shape == (6, 224, 224, 3)
    return q, t


def comparator_input() -> np.ndarray:
    """A 16x20 f2f-like matrix: noise plus a bright diagonal band (a copied segment)."""
    rng = np.random.default_rng(20190601)
    m = rng.uniform(-0.3, 0.4, (16, 20))
    for i in range(3, 13):
        m[i, i + 5] = rng.uniform(0.7, 0.95)
    return m.astype(np.float32)


def official_commit(mirror: str) -> str:
    try:
        out = subprocess.run(["git", "-C", mirror, "rev-parse", "pytorch"], capture_output=True, text=True, check=True)
        return out.stdout.strip()
    except Exception as exc:  # noqa: BLE001 - metadata only
        return f"unknown ({exc.__class__.__name__})"


def f32(x: torch.Tensor) -> np.ndarray:
    return x.detach().cpu().numpy().astype(np.float32)


@torch.no_grad()
def run_model(model, q: torch.Tensor, t: torch.Tensor, cmp_in: torch.Tensor, suffix: str) -> dict[str, np.ndarray]:
    out: dict[str, np.ndarray] = {}
    qf = model.extract_features(q.clone())  # [4, 9, D]
    tf = model.extract_features(t.clone())  # [6, 9, D]
    qb, tb = qf.unsqueeze(0), tf.unsqueeze(0)  # the f2f helpers expect a batch dim
    out["q_features" + suffix] = f32(qf)
    out["t_features" + suffix] = f32(tf)
    out["f2f" + suffix] = f32(model.calculate_f2f_matrix(qb, tb).squeeze(0))
    out["visil_output" + suffix] = f32(model.calculate_visil_output(qb, tb).squeeze(0))
    out["similarity" + suffix] = f32(model.calculate_video_similarity(qf, tf).squeeze(0))
    head = model.visil_head
    cmp_out = head.visil_output(cmp_in.unsqueeze(0))  # [1, h, w]
    out["cmp_output" + suffix] = f32(cmp_out.squeeze(0))
    out["cmp_similarity" + suffix] = f32(head.v2v_sim(head.htanh(cmp_out)).squeeze(0))
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--official", required=True, help="scratch export of MKLab-ITI/visil branch pytorch")
    ap.add_argument("--mirror", default=DEFAULT_MIRROR, help="official git repo, for the commit hash")
    ap.add_argument("--out", default=str(DEFAULT_OUT))
    args = ap.parse_args(argv)

    official = Path(args.official).resolve()
    if REPO in official.parents or official == REPO:
        raise SystemExit("the official code must live outside the vidsim repository")
    sys.path.insert(0, str(official))

    torch.manual_seed(0)
    seeded = load_seeded()
    install_offline_weights(seeded)
    from model.visil import ViSiL  # noqa: E402  (official code, from --official)

    q_np, t_np = make_frames(seeded)
    q = torch.from_numpy(q_np).float()  # as the official evaluation: batch.float()
    t = torch.from_numpy(t_np).float()
    cmp_np = comparator_input()
    cmp_in = torch.from_numpy(cmp_np)

    data: dict[str, np.ndarray] = {"q_frames": q_np, "t_frames": t_np, "cmp_input": cmp_np}

    full = ViSiL(pretrained=True).eval().float()
    with torch.no_grad():
        data["q_regions"] = f32(full.cnn.extract_region_vectors(full.cnn.normalizer(q.clone())))
    data.update(run_model(full, q, t, cmp_in, ""))
    del full

    sym = ViSiL(pretrained=True, symmetric=True).eval().float()
    data.update(run_model(sym, q, t, cmp_in, "_sym"))
    del sym

    data.update(
        meta_torch=np.array(torch.__version__),
        meta_torchvision=np.array(torchvision.__version__),
        meta_numpy=np.array(np.__version__),
        meta_official_commit=np.array(official_commit(args.mirror)),
        meta_date=np.array(_dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")),
        meta_description=np.array(
            "Official MKLab-ITI/visil (pytorch branch) outputs with seeded weights from "
            "vidsim/features/seeded.py (resnet50 seed 0, whitening 3840 seed 0, heads 3840/512 seed 0); "
            "see tools/parity/make_fixture.py"
        ),
    )

    for k, v in data.items():
        if v.dtype.kind == "f" and not np.all(np.isfinite(v)):
            raise SystemExit(f"non-finite values in {k}")

    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(out, **data)

    np.set_printoptions(precision=4, suppress=True, linewidth=120)
    for k, v in data.items():
        print(f"{k:20s} {str(v.dtype):8s} {v.shape}" + (f"  = {v}" if v.ndim == 0 or k.startswith("meta") else ""))
    print("f2f:\n", data["f2f"])
    print("f2f_sym:\n", data["f2f_sym"])
    print("visil_output", data["visil_output"], "visil_output_sym", data["visil_output_sym"])
    print("similarity", data["similarity"], "similarity_sym", data["similarity_sym"])
    print("cmp_output:\n", data["cmp_output"])
    print(f"wrote {out} ({out.stat().st_size / 1e6:.2f} MB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
