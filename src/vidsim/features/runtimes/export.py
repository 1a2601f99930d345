"""ONNX exports of vidsim's own torch modules, made at first use into the model cache, never downloaded.

One file per (backbone, digest of its weights, input size, opset, exporter version): uint8 NHWC
frames in (any batch size), unwhitened region vectors out. Each file has a manifest beside it
with its SHA-256; a file whose bytes no longer match (or that a runtime cannot load) is exported
again. Files and manifests are written atomically, so concurrent processes at worst export twice.
"""
from __future__ import annotations

import hashlib
import json
import warnings
from dataclasses import dataclass
from pathlib import Path

import platformdirs
import torch
from torch import nn

from vidsim.errors import ModelError
from vidsim.features.backbones import Backbone
from vidsim.features.runtimes.torch_runtime import torch_region_vectors
from vidsim.fsutil import atomic_open, atomic_path, sha256_file

OPSET = 17
FORMAT = 1  # bump when the exported graph changes for the same module (input/output layout, pooling)
INPUT, OUTPUT = "frames", "regions"


def default_model_dir() -> Path:
    """Where exported models live: beside the feature cache in the user cache directory."""
    return Path(platformdirs.user_cache_dir("vidsim")) / "models"


class RegionGraph(nn.Module):
    """What is exported: preprocessing, backbone and L3-iMAC pooling in one graph."""

    def __init__(self, backbone: Backbone):
        super().__init__()
        self.backbone = backbone

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        return torch_region_vectors(self.backbone, frames)


def weights_digest(module: nn.Module) -> str:
    """Hash of every parameter and buffer (names, shapes, dtypes, values): a changed weight is a new export."""
    digest = hashlib.sha256()
    for name, tensor in module.state_dict().items():
        t = tensor.detach().cpu().contiguous()
        digest.update(f"{name}:{tuple(t.shape)}:{t.dtype};".encode())
        digest.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


@dataclass(frozen=True)
class ExportKey:
    """What makes one exported file."""

    backbone: str  # the backbone's weights_version (name and weights file)
    digest: str  # weights_digest of the module
    height: int
    width: int
    opset: int = OPSET
    exporter: str = torch.__version__

    @property
    def stem(self) -> str:
        name = self.backbone.split(":", 1)[0].replace("/", "-")  # the weights themselves are in the digest
        return (f"{name}-{self.digest[:16]}-{self.height}x{self.width}-opset{self.opset}"
                f"-torch{self.exporter.replace('+', '-')}-f{FORMAT}")


class ModelStore:
    """Directory of `<stem>.onnx` exports with their `<stem>.json` manifests."""

    def __init__(self, root: str | Path | None = None):
        self.root = Path(root) if root is not None else default_model_dir()
        self.exports = 0  # exports made by this store (tests read it)

    def paths(self, key: ExportKey) -> tuple[Path, Path]:
        return self.root / f"{key.stem}.onnx", self.root / f"{key.stem}.json"

    def valid(self, key: ExportKey) -> Path | None:
        """The exported file when it is there and its bytes match its manifest, else None."""
        model, manifest = self.paths(key)
        try:
            recorded = json.loads(manifest.read_text())
            return model if recorded.get("sha256") == sha256_file(model) else None
        except (OSError, ValueError, AttributeError):
            return None

    def get(self, key: ExportKey, backbone: Backbone) -> tuple[Path, bool]:
        """(path of the export for `key`, whether it was made now); exports it when missing or damaged."""
        found = self.valid(key)
        if found is not None:
            return found, False
        return self.export(key, backbone), True

    def export(self, key: ExportKey, backbone: Backbone) -> Path:
        """Export `backbone` for `key` (replacing whatever file was there) and write its manifest."""
        model, manifest = self.paths(key)
        graph = RegionGraph(backbone).eval()
        example = torch.zeros(2, key.height, key.width, 3, dtype=torch.uint8, device=next(backbone.parameters()).device)
        try:
            with atomic_path(model) as tmp, torch.no_grad(), warnings.catch_warnings():
                warnings.simplefilter("ignore")  # tracer and deprecation notices of the exporter
                torch.onnx.export(graph, (example,), str(tmp), input_names=[INPUT], output_names=[OUTPUT],
                                  dynamic_axes={INPUT: {0: "batch"}, OUTPUT: {0: "batch"}},
                                  opset_version=key.opset, dynamo=False)
        except Exception as exc:  # the exporter raises many kinds of errors
            raise ModelError(f"cannot export {key.backbone} to ONNX ({type(exc).__name__}: {exc})") from exc
        record = {"sha256": sha256_file(model), "bytes": model.stat().st_size, "backbone": key.backbone,
                  "weights_digest": key.digest, "input": [key.height, key.width, 3], "opset": key.opset,
                  "exporter": f"torch {key.exporter}", "format": FORMAT}
        with atomic_open(manifest, "w") as fh:
            json.dump(record, fh, indent=1, sort_keys=True)
        self.exports += 1
        return model
