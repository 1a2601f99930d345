"""Loading weights from files (never from URLs)."""
from __future__ import annotations

from pathlib import Path

import torch

from vidsim.errors import ModelError


def load_state_dict_file(path: str | Path) -> dict[str, torch.Tensor]:
    """Load a torch state_dict (.pth/.pt) or safetensors file, unwrapping {'state_dict': ...}."""
    path = Path(path)
    if not path.is_file():
        raise ModelError(f"{path}: weights file not found")
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            state = load_file(str(path))
        else:
            state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # corrupt or foreign file
        raise ModelError(f"{path}: cannot read weights ({exc})") from exc
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    if not isinstance(state, dict):
        raise ModelError(f"{path}: not a state_dict")
    return {k.removeprefix("module."): v for k, v in state.items()}
