"""Heatmaps of frame-to-frame similarity (time axes in mm:ss) and of N x N video matrices."""
from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from vidsim.units import format_mmss


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _time_ticks(timestamps: np.ndarray, count: int = 8) -> tuple[np.ndarray, list[str]]:
    if len(timestamps) == 0:
        return np.array([]), []
    idx = np.unique(np.linspace(0, len(timestamps) - 1, min(count, len(timestamps))).round().astype(int))
    return idx, [format_mmss(timestamps[i]) for i in idx]


def _save(fig, path: str | Path) -> None:
    """Write through a temporary file so a crash never leaves a broken PNG."""
    from vidsim.fsutil import atomic_open

    with atomic_open(path, "wb") as fh:
        fig.savefig(fh, format="png", dpi=110, bbox_inches="tight")


def heatmap_png(
    f2f: np.ndarray,
    query_timestamps: np.ndarray,
    target_timestamps: np.ndarray,
    segments: Sequence[tuple[float, float, float, float]] = (),
    title: str = "",
    query_label: str = "query",
    target_label: str = "reference",
) -> bytes:
    """A frame-to-frame matrix as PNG bytes (for pages that inline their images): rows query time,
    columns target time, both in mm:ss; `segments` (query start, end, target start, end in seconds)
    outlined. Cells at -1 (frames left out of the comparison) are drawn at the lowest colour
    without stretching the scale of the others."""
    plt = _pyplot()
    from matplotlib.patches import Rectangle

    rows, cols = f2f.shape if f2f.ndim == 2 else (0, 0)
    fig, ax = plt.subplots(figsize=(min(9.0, 3.5 + 0.05 * cols), min(7.0, 3.0 + 0.05 * rows)))
    valid = f2f[f2f > -1] if f2f.size else f2f
    low, high = (float(valid.min()), float(valid.max())) if valid.size else (0.0, 1.0)
    image = ax.imshow(f2f if f2f.size else np.zeros((1, 1)), cmap="viridis", aspect="auto",
                      interpolation="nearest", vmin=low, vmax=max(high, low + 1e-6))
    yt, yl = _time_ticks(query_timestamps)
    xt, xl = _time_ticks(target_timestamps)
    ax.set_yticks(yt, yl)
    ax.set_xticks(xt, xl, rotation=45, ha="right")
    ax.set_ylabel(f"{query_label} (mm:ss)")
    ax.set_xlabel(f"{target_label} (mm:ss)")
    for q0, q1, t0, t1 in segments:
        r0, r1 = _cells(query_timestamps, q0, q1)
        c0, c1 = _cells(target_timestamps, t0, t1)
        ax.add_patch(Rectangle((c0 - 0.5, r0 - 0.5), c1 - c0 + 1, r1 - r0 + 1, fill=False, edgecolor="#ff4136",
                               linewidth=1.8))
    ax.set_title(title or "frame-to-frame similarity")
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90, bbox_inches="tight")
    plt.close(fig)
    return buffer.getvalue()


def _cells(timestamps: np.ndarray, start: float, end: float) -> tuple[int, int]:
    """The first and last frame (index into `timestamps`) of the interval [start, end) seconds."""
    if len(timestamps) == 0:
        return 0, 0
    first = min(int(np.searchsorted(timestamps, start - 1e-6, side="left")), len(timestamps) - 1)
    last = int(np.searchsorted(timestamps, end - 1e-6, side="left")) - 1
    return first, max(first, min(last, len(timestamps) - 1))


def save_heatmap(
    path: str | Path,
    f2f: np.ndarray,
    query_timestamps: np.ndarray,
    target_timestamps: np.ndarray,
    title: str = "",
    query_label: str = "query",
    target_label: str = "target",
    comparator: np.ndarray | None = None,
) -> None:
    """Frame-to-frame matrix (rows: query time, columns: target time), and the learned
    comparator's output beside it when there is one."""
    plt = _pyplot()
    panels = 2 if comparator is not None else 1
    fig, axes = plt.subplots(1, panels, figsize=(6.5 * panels, 5.5), squeeze=False)
    ax = axes[0, 0]
    low, high = (float(np.min(f2f)), float(np.max(f2f))) if f2f.size else (0.0, 1.0)
    image = ax.imshow(f2f, cmap="viridis", aspect="auto", interpolation="nearest", vmin=low, vmax=max(high, low + 1e-6))
    yt, yl = _time_ticks(query_timestamps)
    xt, xl = _time_ticks(target_timestamps)
    ax.set_yticks(yt, yl)
    ax.set_xticks(xt, xl, rotation=45, ha="right")
    ax.set_ylabel(f"{query_label} (mm:ss)")
    ax.set_xlabel(f"{target_label} (mm:ss)")
    ax.set_title("frame-to-frame similarity")
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
    if comparator is not None:
        ax2 = axes[0, 1]
        image2 = ax2.imshow(np.clip(comparator, -1, 1), cmap="RdBu_r", aspect="auto", interpolation="nearest", vmin=-1, vmax=1)
        ax2.set_title("ViSiL comparator output (Hardtanh)")
        ax2.set_xlabel("target (comparator cells)")
        ax2.set_ylabel("query (comparator cells)")
        fig.colorbar(image2, ax=ax2, fraction=0.046, pad=0.04)
    if title:
        fig.suptitle(title)
    _save(fig, path)
    plt.close(fig)


def save_matrix_heatmap(path: str | Path, matrix: np.ndarray, labels: Sequence[str], title: str = "") -> None:
    """N x N video similarity matrix with the videos' names on both axes."""
    plt = _pyplot()
    n = len(labels)
    side = min(4 + 0.35 * n, 30)
    fig, ax = plt.subplots(figsize=(side + 1.5, side))
    image = ax.imshow(matrix, cmap="viridis", interpolation="nearest")
    short = [Path(label).name for label in labels]
    ax.set_xticks(range(n), short, rotation=60, ha="right", fontsize=8)
    ax.set_yticks(range(n), short, fontsize=8)
    if n <= 20:
        for i in range(n):
            for j in range(n):
                ax.text(j, i, f"{matrix[i, j]:.2f}", ha="center", va="center", fontsize=7, color="w")
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
    ax.set_title(title or "video similarity")
    _save(fig, path)
    plt.close(fig)
