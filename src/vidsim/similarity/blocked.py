"""Frame-to-frame Chamfer similarity of one query against many target frames, for inference.

The same values as `f2f_similarity` (to float rounding), computed the way the search re-rank
needs them fast: the query is laid out once (`QueryColumns`: regions as columns, region-major),
target frames go through in blocks whose region-pair similarities [frames x S, R x P] (about
`BLOCK_CELLS`) stay in the CPU cache, and the max over target regions reduces whole rows.

Targets given as int8 hold exact small integers (the ±1 signs of binary codes, int8 codes' values in
[-127, 127], their scales passed as `weights`): exact in bfloat16 too, so on a CPU that multiplies
bfloat16 matrices (oneDNN, AVX512-BF16/AMX) the query is split into two bfloat16 parts, hi + lo
(together 16 significant bits). The hi product runs under oneDNN's bf16 float32-precision mode
(bf16 products, exact here, summed and returned in float32); the lo product, 2^-9 of the value,
as a plain bf16 product (its bf16 result rounds 2^-18 of the value). The sum is within float32
rounding of the float32 product: a few 1e-7 on unit-norm regions. That mode is a process-wide
torch setting: it is set for the hi products only and restored at once, so an fp32 product in
another thread meanwhile would run in bf16 too.
"""
from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterator
from dataclasses import dataclass

import torch

# region-pair similarities per block: [53 x 9, 540] for a 60-frame query, 1 MB of float32 that stays in
# the L2 cache (oneDNN's bf16-mode product also slowed down past ~600 target rows here)
BLOCK_CELLS = 1 << 18


@dataclass(frozen=True)
class QueryColumns:
    """A query's regions [P, R, D] as matrix columns [D, R x P] (region-major), and, where the
    bf16 path applies, as two parts: hi (float32 holding bf16 values) and lo = bf16(full - hi)."""

    frames: int
    regions: int
    full: torch.Tensor  # [D, R * P] float32
    split: tuple[torch.Tensor, torch.Tensor] | None  # (hi float32, lo bfloat16), each [D, R * P]; None: not used


def query_columns(query: torch.Tensor, split: bool | None = None) -> QueryColumns:
    """Lay out a query [P, R, D] once for many `blocked_f2f` calls. `split`: prepare the bf16
    parts (default: where the query's device can use them, see `bf16_products_available`)."""
    if query.ndim != 3:
        raise ValueError(f"expected query regions [P, R, D], got shape {tuple(query.shape)}")
    p, r, d = query.shape
    full = query.to(torch.float32).transpose(0, 1).reshape(r * p, d).t().contiguous()
    if split is None:
        split = full.device.type == "cpu" and bf16_products_available()
    parts = None
    if split:
        hi = full.to(torch.bfloat16).to(torch.float32)
        parts = hi, (full - hi).to(torch.bfloat16)
    return QueryColumns(p, r, full, parts)


def blocked_f2f(query: QueryColumns, target: torch.Tensor, symmetric: bool = False,
                weights: torch.Tensor | None = None, block_frames: int | None = None) -> torch.Tensor:
    """[P, Q] f2f of the prepared query against target regions [Q, S, D] (float32, or int8 exact
    integers): per frame pair, the mean over query regions of the max over target regions of their
    dot product (averaged with the transposed reading if symmetric). `weights` [Q, S] scale each
    target region's similarities (a learned head's attention on the targets, applied here so that
    int8 targets stay exact). `block_frames`: target frames per block (default: from `BLOCK_CELLS`)."""
    if target.ndim != 3 or target.shape[-1] != query.full.shape[0]:
        raise ValueError(f"expected target regions [Q, S, {query.full.shape[0]}], got shape {tuple(target.shape)}")
    device = query.full.device
    split = query.split if target.dtype == torch.int8 else None
    if block_frames is None:
        block_frames = max(4, BLOCK_CELLS // max(1, target.shape[1] * query.full.shape[1]))
    out = []
    for start in range(0, target.shape[0], block_frames):
        block = target[start:start + block_frames]
        frames, s, d = block.shape
        flat = block.reshape(frames * s, d).to(device)
        if split is None:
            sim = flat.to(torch.float32) @ query.full
        else:
            with _bf16_products():
                sim = flat.to(torch.float32) @ split[0]
            sim += flat.to(torch.bfloat16) @ split[1]
        if weights is not None:
            sim.mul_(weights[start:start + block_frames].reshape(frames * s, 1).to(sim))  # sim is a fresh product
        sim = sim.view(frames, s, query.regions, query.frames)
        f2f = sim.amax(dim=1).mean(dim=1)
        if symmetric:
            f2f = (f2f + sim.amax(dim=2).mean(dim=1)) / 2
        out.append(f2f)
    if not out:
        return query.full.new_zeros(query.frames, 0)
    return torch.cat(out).t()


@functools.cache
def bf16_products_available() -> bool:
    """True where torch can run float32 products through oneDNN in bf16 (the CPU has AVX512-BF16
    or AMX and torch has the per-backend precision setting)."""
    matmul = getattr(torch.backends.mkldnn, "matmul", None)
    if matmul is None or not hasattr(matmul, "fp32_precision") or not torch.backends.mkldnn.is_available():
        return False
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


@contextlib.contextmanager
def _bf16_products() -> Iterator[None]:
    """oneDNN's float32 products in bf16 for the block, then the setting restored."""
    matmul = getattr(torch.backends.mkldnn, "matmul")  # noqa: B009  (not in torch's type stubs)
    before = matmul.fp32_precision
    matmul.fp32_precision = "bf16"
    try:
        yield
    finally:
        matmul.fp32_precision = before
