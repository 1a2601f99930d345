"""The extractors compared: the official ViSiL recipe (re-implemented) and vidsim's FeatureExtractor."""
from __future__ import annotations

import math


class OfficialRecipe:
    """Region vectors the way the official ViSiL code computes them (the package docstring describes it)."""

    STAGE_KERNELS = {"layer1": 28, "layer2": 14, "layer3": 6, "layer4": 3}  # for 224-px input
    MODULES = ("conv1", "bn1", "relu", "maxpool", "layer1", "layer2", "layer3", "layer4")

    def __init__(self, resnet, batch_size: int = 128):
        import torch

        self.net = resnet.eval()
        self.batch_size = batch_size
        self.mean = torch.tensor([0.485, 0.456, 0.406])
        self.std = torch.tensor([0.229, 0.224, 0.225])

    def region_vectors(self, x):
        import torch
        import torch.nn.functional as F

        x = ((x / 255.0) - self.mean) / self.std
        x = x.permute(0, 3, 1, 2)
        pooled = []
        for name in self.MODULES:
            x = getattr(self.net, name)(x).contiguous()
            if name in self.STAGE_KERNELS:
                k = self.STAGE_KERNELS[name]
                r = F.max_pool2d(x, [k, k], int(math.ceil(k / 2)))
                pooled.append(F.normalize(r, p=2, dim=1))
        x = torch.cat(pooled, 1)
        x = x.view(x.shape[0], x.shape[1], -1).permute(0, 2, 1)
        return F.normalize(x, p=2, dim=-1)

    def __call__(self, frames):
        import torch

        with torch.no_grad():
            out = []
            for start in range(0, frames.shape[0], self.batch_size):
                out.append(self.region_vectors(frames[start : start + self.batch_size].float()))
            return torch.cat(out, 0)


def build_vidsim(overrides: dict):
    """(DecodeConfig, FeatureExtractor) of a row's overrides (model loaded, runtime resolved)."""
    from vidsim.features.extractor import FeatureExtractor

    from .rows import build_configs

    decode, features = build_configs(overrides)
    return decode, FeatureExtractor(features, device="cpu")


def build_extractor(spec: dict):
    """A callable uint8 frames [N, H, W, 3] (torch) -> region vectors [N, 9, D]: the official recipe
    (`impl` "reference") or vidsim's FeatureExtractor with the spec's overrides."""
    if spec["impl"] == "reference":
        from vidsim.features.backbones import build_backbone

        return OfficialRecipe(build_backbone("resnet50", "seed:0"), spec.get("batch_size", 128))
    return build_vidsim(spec["overrides"])[1]


def describe(extractor) -> dict:
    """What a built extractor runs: resolved runtime, precision, batch size, dims, whitening."""
    if isinstance(extractor, OfficialRecipe):
        return {"runtime": "torch (official recipe)", "precision": "fp32", "batch_size": extractor.batch_size,
                "dims": 3840, "whitening": "none"}
    cfg, white = extractor.config, extractor.whitening
    return {"backbone": cfg.backbone, "runtime": cfg.runtime, "precision": cfg.precision, "batch_size": cfg.batch_size,
            "dims": int(extractor.dims), "whitening": "none" if white is None else f"PCA {white.in_dims}->{white.out_dims}"}
