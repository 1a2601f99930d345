"""Batch-norm folding for inference: eval-mode BatchNorm2d layers merged into the convolutions they read."""
from __future__ import annotations

import copy
from typing import TypeVar

import torch
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval

ModuleT = TypeVar("ModuleT", bound=nn.Module)


@torch.no_grad()
def fold_batchnorms(module: ModuleT, probe_size: int = 64) -> ModuleT:
    """Fold every eval-mode BatchNorm2d that reads a Conv2d's output straight into that
    convolution (torch's `fuse_conv_bn_eval`) and put nn.Identity in its place. Inference only.

    Pairs come from the data flow of one small forward pass (hooks on the leaf modules and convolutions), not
    from names: a batch norm is folded when its input is the output of a convolution that ran
    once and whose output no other module read. A second pass on the same input must give the
    same stage maps (to 1e-4), otherwise the unfolded module is returned: a convolution output
    also read by a functional op would be caught there.
    """
    param = next(module.parameters())
    probe = torch.rand(1, 3, probe_size, probe_size, generator=torch.Generator().manual_seed(0))
    probe = probe.to(param.device, param.dtype)
    producer: dict[int, nn.Module] = {}  # id(conv output) -> conv
    readers: dict[int, list[nn.Module]] = {}  # id(conv output) -> modules that read it
    calls: dict[nn.Module, int] = {}
    alive: list[torch.Tensor] = []  # keeps outputs alive so that their ids stay unique

    def before(mod, inputs):
        calls[mod] = calls.get(mod, 0) + 1
        for t in inputs:
            if isinstance(t, torch.Tensor) and id(t) in producer:
                readers.setdefault(id(t), []).append(mod)

    def after_conv(conv, _inputs, output):
        producer[id(output)] = conv
        alive.append(output)

    named = dict(module.named_modules())
    readers_of_interest = [m for m in named.values() if isinstance(m, nn.Conv2d) or not list(m.children())]
    hooks = [m.register_forward_pre_hook(before) for m in readers_of_interest]
    hooks += [m.register_forward_hook(after_conv) for m in named.values() if isinstance(m, nn.Conv2d)]
    try:
        expected = module(probe)
    finally:
        for h in hooks:
            h.remove()
    pairs = []
    for key, conv in producer.items():
        users = readers.get(key, [])
        if len(users) == 1 and isinstance(users[0], nn.BatchNorm2d) and calls[conv] == 1 and not conv.training:
            bn = users[0]
            if (not bn.training and calls[bn] == 1 and bn.running_mean is not None and bn.running_var is not None
                    and bn.num_features == conv.out_channels):
                pairs.append((conv, bn))
    if not pairs:
        return module
    folded = copy.deepcopy(module)
    fnamed = dict(folded.named_modules())
    names = {m: n for n, m in named.items()}
    for conv_name, bn_name in ((names[c], names[b]) for c, b in pairs):
        fused = fuse_conv_bn_eval(fnamed[conv_name], fnamed[bn_name])
        fused.requires_grad_(False)
        _replace(folded, conv_name, fused)
        _replace(folded, bn_name, nn.Identity())
    got = folded(probe)
    same = isinstance(got, (list, tuple)) and len(got) == len(expected) and all(
        g.shape == e.shape and torch.allclose(g, e, rtol=1e-4, atol=1e-4) for g, e in zip(got, expected)
    )
    return folded if same else module


def _replace(root: nn.Module, name: str, module: nn.Module) -> None:
    """Put `module` where the submodule called `name` (dotted path) of `root` is."""
    parent, _, attr = name.rpartition(".")
    setattr(root.get_submodule(parent) if parent else root, attr, module)
