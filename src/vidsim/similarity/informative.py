"""Uninformative frames: near-constant pictures (black, blank, one colour) match each other whatever
the videos, so a dark query frame meeting a dark reference frame says nothing about a copy.

A frame is informative when its pixel standard deviation (`VideoFeatures.frame_std`, measured on
the network's input) reaches `SimilarityConfig.min_frame_std`. Scoring leaves the other frames out
of the f2f map (`select_frames`): out of the Chamfer mean over query frames and of the max over
target frames; localisation sees their cells as non-matches (`mask_cells`). A video without any
informative frame, or whose frames were never measured, is compared whole.
"""
from __future__ import annotations

import numpy as np
import torch

FrameMask = tuple["np.ndarray | None", "np.ndarray | None"]  # frames kept on the query (rows) and target (columns) side


def informative_frames(frame_std: np.ndarray | None, min_std: float) -> np.ndarray | None:
    """Boolean mask of the frames to compare, or None to compare them all: the rule is off
    (`min_std` <= 0), the frames were never measured, every frame passes, or none does."""
    if frame_std is None or min_std <= 0:
        return None
    keep = np.asarray(frame_std) >= min_std
    if keep.all() or not keep.any():
        return None
    return keep


def select_frames(sim: torch.Tensor, rows: np.ndarray | None, cols: np.ndarray | None) -> torch.Tensor:
    """The f2f map [P, Q] restricted to the kept query rows and target columns."""
    if rows is not None:
        sim = sim[torch.from_numpy(np.flatnonzero(rows)).to(sim.device)]
    if cols is not None:
        sim = sim[:, torch.from_numpy(np.flatnonzero(cols)).to(sim.device)]
    return sim


def mask_cells(f2f: np.ndarray, rows: np.ndarray | None, cols: np.ndarray | None, value: float = -1.0) -> np.ndarray:
    """A copy of the f2f map [P, Q] whose cells in left-out rows or columns read `value` (no match)."""
    if rows is None and cols is None:
        return f2f
    out = np.array(f2f, copy=True)
    if rows is not None:
        out[~rows, :] = value
    if cols is not None:
        out[:, ~cols] = value
    return out
