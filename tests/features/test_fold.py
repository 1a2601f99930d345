"""Batch-norm folding (bf16 path): same outputs, batch norms gone, unsafe pairs left alone."""
import torch
from torch import nn

from vidsim.features import build_backbone
from vidsim.features.extractor import fold_batchnorms


def _bn(channels: int, affine: bool = True) -> nn.BatchNorm2d:
    bn = nn.BatchNorm2d(channels, affine=affine)
    g = torch.Generator().manual_seed(channels)
    bn.running_mean.copy_(torch.randn(channels, generator=g))
    bn.running_var.copy_(torch.rand(channels, generator=g) + 0.5)
    if affine:
        bn.weight.data.copy_(torch.randn(channels, generator=g))
        bn.bias.data.copy_(torch.randn(channels, generator=g))
    return bn


class Chain(nn.Module):
    """conv -> bn (no conv bias), then conv (bias) -> bn (no affine), then conv -> bn."""

    def __init__(self):
        super().__init__()
        self.a, self.bn_a = nn.Conv2d(3, 8, 3, padding=1, bias=False), _bn(8)
        self.b, self.bn_b = nn.Conv2d(8, 8, 1), _bn(8, affine=False)
        self.c, self.bn_c = nn.Conv2d(8, 8, 1), _bn(8)

    def forward(self, x):
        x = torch.relu(self.bn_a(self.a(x)))
        y = self.bn_b(self.b(x))
        return [y, self.bn_c(self.c(y))]


class Reused(Chain):
    """The last convolution's output is also read by a functional op: folding would change it."""

    def forward(self, x):
        x = torch.relu(self.bn_a(self.a(x)))
        y = self.bn_b(self.b(x))
        c = self.c(y)
        return [y, self.bn_c(c) + c]


def test_fold_keeps_outputs_and_removes_the_batch_norms():
    torch.manual_seed(0)
    module = Chain().eval()
    x = torch.rand(2, 3, 16, 16)
    folded = fold_batchnorms(module)
    assert all(isinstance(getattr(folded, n), nn.Identity) for n in ("bn_a", "bn_b", "bn_c"))
    assert isinstance(module.bn_a, nn.BatchNorm2d)  # the input module is left as it was
    with torch.no_grad():
        for got, expected in zip(folded(x), module(x)):
            torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-5)


def test_a_convolution_output_read_twice_leaves_the_module_unfolded():
    torch.manual_seed(0)
    module = Reused().eval()
    assert fold_batchnorms(module) is module


def test_fold_of_a_real_backbone_matches_it():
    backbone = build_backbone("efficientnet-lite0").eval()
    folded = fold_batchnorms(backbone)
    assert not any(isinstance(m, nn.BatchNorm2d) for m in folded.modules())
    x = backbone.preprocess(torch.randint(0, 256, (1, 96, 96, 3), dtype=torch.uint8))
    with torch.no_grad():
        for got, expected in zip(folded(x), backbone(x)):
            torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-4)
