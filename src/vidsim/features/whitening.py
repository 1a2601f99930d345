"""PCA whitening of region vectors: fit on frames, save, load (incl. the official mean/V/d
layout), optionally reduce dimensions. Applied as L2((x - mean) @ V diag(1/sqrt(d + eps)))."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from vidsim.errors import ModelError
from vidsim.resources import packaged_whitening

EPS = 1e-7  # the official regulariser of the eigenvalues


class PCAWhitening(nn.Module):
    """Holds mean [D] and the projection DVt [D, K]; K <= D kept components, largest first."""

    mean: torch.Tensor
    DVt: torch.Tensor
    d: torch.Tensor
    V: torch.Tensor

    def __init__(self, mean: torch.Tensor, V: torch.Tensor, d: torch.Tensor, dims: int | None = None):
        super().__init__()
        mean, V, d = (torch.as_tensor(np.asarray(a), dtype=torch.float32) for a in (mean, V, d))
        if V.ndim != 2 or V.shape[0] != mean.shape[0] or V.shape[1] != d.shape[0]:
            raise ModelError(f"whitening shapes disagree: mean {tuple(mean.shape)}, V {tuple(V.shape)}, d {tuple(d.shape)}")
        order = torch.argsort(d, descending=True)[:dims]
        d, V = d[order], V[:, order]
        # Same operation order as the official code: (diag(1/sqrt(d + eps)) @ V.T).T
        self.register_buffer("mean", mean)
        self.register_buffer("DVt", torch.mm(torch.diag(1.0 / torch.sqrt(d + EPS)), V.T).T.contiguous())
        self.register_buffer("d", d)
        self.register_buffer("V", V)

    @property
    def in_dims(self) -> int:
        return int(self.mean.shape[0])

    @property
    def out_dims(self) -> int:
        return int(self.DVt.shape[1])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-1] != self.in_dims:
            raise ModelError(f"whitening expects {self.in_dims}-d vectors, got {x.shape[-1]}-d")
        x = torch.matmul(x - self.mean, self.DVt)
        return F.normalize(x, p=2, dim=-1)

    @classmethod
    def fit(cls, vectors: np.ndarray | torch.Tensor, dims: int | None = None) -> PCAWhitening:
        """Fit on region vectors [N, D] (N >= D recommended; fewer leaves null directions)."""
        x = torch.as_tensor(np.asarray(vectors), dtype=torch.float64).reshape(-1, np.shape(vectors)[-1])
        if x.shape[0] < 2:
            raise ModelError("whitening needs at least 2 vectors to fit")
        mean = x.mean(0)
        xc = x - mean
        cov = xc.T @ xc / (x.shape[0] - 1)
        d, V = torch.linalg.eigh(cov)
        d = d.clamp_min(0)
        return cls(mean.float(), V.float(), d.float(), dims)

    def save(self, path: str | Path) -> None:
        """Save in the official layout (mean, V, d; all components kept) as .npz."""
        from vidsim.fsutil import atomic_open

        with atomic_open(path, "wb") as fh:
            np.savez(fh, mean=self.mean.cpu().numpy(), V=self.V.cpu().numpy(), d=self.d.cpu().numpy())

    @classmethod
    def load(cls, path: str | Path, dims: int | None = None) -> PCAWhitening:
        """Load .npz (ours) or the official .pth dict with keys mean, V, d."""
        path = Path(path)
        if not path.is_file():
            raise ModelError(f"{path}: whitening file not found")
        try:
            if path.suffix == ".npz":
                with np.load(path) as data:
                    parts = {k: data[k] for k in ("mean", "V", "d")}
            else:
                raw = torch.load(path, map_location="cpu", weights_only=True)
                parts = {k: raw[k] for k in ("mean", "V", "d")}
        except KeyError as exc:
            raise ModelError(f"{path}: whitening file lacks {exc}") from exc
        except Exception as exc:
            raise ModelError(f"{path}: cannot read whitening ({exc})") from exc
        return cls(parts["mean"], parts["V"], parts["d"], dims)


def resolve_whitening(backbone: str, whitening: str | None) -> Path | None:
    """'auto' -> the packaged file for the backbone (or none); 'none'/None -> none; else the path."""
    if whitening is None or whitening.lower() == "none":
        return None
    if whitening == "auto":
        return packaged_whitening(backbone)
    return Path(whitening)
