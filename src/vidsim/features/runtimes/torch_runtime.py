"""The torch runtime: the backbone's own modules, fp32 or bf16 (channels_last, batch norms folded)."""
from __future__ import annotations

import torch

from vidsim.features.backbones import Backbone
from vidsim.features.fold import fold_batchnorms
from vidsim.features.pooling import region_vectors
from vidsim.features.runtimes.base import Runtime


class TorchRuntime(Runtime):
    """fp32 is the reference every other runtime is checked against."""

    name = "torch"

    def __init__(self, precision: str = "fp32", threads: int = 0):
        self.precision = precision
        self.threads = threads  # 0: torch's own setting (torch.set_num_threads), left as it is

    def prepare(self, backbone: Backbone) -> Backbone:
        if self.precision != "bf16":
            return backbone
        # bf16 weights and activations in channels_last: about 3.5x fp32 on AVX-512 CPUs; batch
        # norms are folded into their convolutions first (in fp32), since unfused bf16 batch norms
        # cost a good share of the backbone's time. Pooling and normalisation stay in fp32.
        backbone = fold_batchnorms(backbone)
        backbone.to(dtype=torch.bfloat16, memory_format=torch.channels_last)  # type: ignore[call-overload]
        return backbone

    @torch.no_grad()
    def region_vectors(self, backbone: Backbone, frames: torch.Tensor) -> torch.Tensor:
        if self.threads <= 0 or self.threads == torch.get_num_threads():
            return torch_region_vectors(backbone, frames, self.precision)
        before = torch.get_num_threads()
        torch.set_num_threads(self.threads)
        try:
            return torch_region_vectors(backbone, frames, self.precision)
        finally:
            torch.set_num_threads(before)


def torch_region_vectors(backbone: Backbone, frames: torch.Tensor, precision: str = "fp32") -> torch.Tensor:
    """The torch computation itself; also what exported models are traced from and checked against."""
    x = backbone.preprocess(frames)
    if precision == "bf16":
        x = x.to(torch.bfloat16).contiguous(memory_format=torch.channels_last)
    maps = backbone(x)
    return region_vectors([m.float() for m in maps])
