"""The rows the benchmark measures, in one table: each a set of VidsimConfig field overrides.

A row names configuration fields by their dotted names ("features.runtime", "decode.threads"),
so a new option of FeatureConfig or DecodeConfig becomes a row by adding a line to ROWS (or,
for one run, `--row 'NAME:decode.threads=1,features.batch_size=16'`). A row whose fields this
vidsim lacks, or whose values it refuses, is skipped with its reason in the report.

Beside the table, one row per installed runtime and precision ("openvino bf16", ...) is made
from vidsim's runtime registry, so a precision a runtime gains (int8) is measured without an edit.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

ROW_SECTIONS = ("e2e", "hires", "resnet", "rss")
OLD_DEFAULT = "old default (torch fp32)"
DEFAULT = "default"
REFERENCE = "official recipe (fp32, NCHW, b128)"

# The resnet50 section's base: the deterministic weights (no ImageNet ResNet-50 weights can be
# installed here) and no whitening, as the official recipe's region vectors are compared unwhitened.
RESNET_BASE: dict[str, Any] = {"features.backbone": "resnet50", "features.weights": "seed:0", "features.whitening": "none"}


@dataclass(frozen=True)
class Row:
    """One measured configuration.

    overrides: dotted VidsimConfig fields over the section's base (the defaults, or RESNET_BASE).
    sections: where the row appears: "e2e" (franck, 360p), "hires" (720p, 1080p), "resnet"
        (its overrides then apply over RESNET_BASE), "rss" (long videos).
    threads: torch threads in the row's worker process (None: --threads).
    env: environment of the row's worker (read when libraries load, e.g. OMP_WAIT_POLICY).
    """

    overrides: Mapping[str, Any] = field(default_factory=dict)
    sections: tuple[str, ...] = ("e2e",)
    threads: int | None = None
    env: Mapping[str, str] = field(default_factory=dict)
    note: str = ""


# The table. Add options here as they land, e.g.
#   "decode thread": Row({"decode.<field>": ...}, sections=("e2e", "hires"), note="..."),
#   "1 torch thread": Row({}, threads=1),
ROWS: dict[str, Row] = {
    OLD_DEFAULT: Row({"features.runtime": "torch", "features.precision": "fp32"}, sections=("e2e", "hires"),
                     note="the default before inference runtimes existed: the reference of the ratios"),
    DEFAULT: Row({}, sections=("e2e", "hires", "rss"), note="FeatureConfig() and DecodeConfig() as they are"),
}


def runtime_rows(wanted: Iterable[str] | None = None) -> dict[str, Row]:
    """'<runtime> <precision>' for every installed runtime and each precision it runs (e2e and resnet)."""
    from vidsim.features.runtimes import RUNTIMES, installed

    wanted = set(wanted) if wanted is not None else None
    return {f"{name} {prec}": Row({"features.runtime": name, "features.precision": prec}, sections=("e2e", "resnet"))
            for name, spec in RUNTIMES.items() if installed(name) and (wanted is None or name in wanted)
            for prec in spec.precisions}


def parse_row(text: str) -> tuple[str, Row]:
    """`NAME:field=value,field=value[@section+section]` -> (NAME, Row); values are JSON where they parse.

    e.g. `decode 1 thread:decode.threads=1@e2e+hires`; `torch 1 thread:features.runtime="torch",threads=1`
    (`threads=` sets the worker's torch threads)."""
    import json

    from vidsim.errors import ConfigError

    name, sep, rest = text.partition(":")
    if not sep or not name.strip():
        raise ConfigError(f"--row {text!r}: expected NAME:field=value,...")
    rest, _, where = rest.partition("@")
    overrides: dict[str, Any] = {}
    threads = None
    for item in filter(None, (s.strip() for s in rest.split(","))):
        key, eq, raw = item.partition("=")
        if not eq:
            raise ConfigError(f"--row {text!r}: {item!r} is not field=value")
        try:
            value = json.loads(raw)
        except json.JSONDecodeError:
            value = raw
        if key.strip() == "threads":
            threads = int(value)
        else:
            overrides[key.strip()] = value
    sections = tuple(s for s in where.split("+") if s) or ("e2e",)
    if set(sections) - set(ROW_SECTIONS):
        raise ConfigError(f"--row {text!r}: sections are {', '.join(ROW_SECTIONS)}")
    return name.strip(), Row(overrides, sections=sections, threads=threads, note="from --row")


def select_rows(section: str, runtimes: Iterable[str] | None = None, only: Iterable[str] | None = None,
                extra: Mapping[str, Row] | None = None) -> dict[str, Row]:
    """The rows of `section`: the table's, the installed runtimes' (less those that repeat an earlier row's
    overrides, as "torch fp32" repeats the old default), then `extra` (--row); `only` keeps those named
    (and the old default and the default, the references of the headlines)."""
    keep = set(only) | {OLD_DEFAULT, DEFAULT} if only else None
    out: dict[str, Row] = {}
    for name, row in {**ROWS, **runtime_rows(runtimes)}.items():
        if section in row.sections and (keep is None or name in keep) and all(
                dict(row.overrides) != dict(r.overrides) or row.threads != r.threads or dict(row.env) != dict(r.env)
                for r in out.values()):
            out[name] = row
    out.update({n: r for n, r in (extra or {}).items() if section in r.sections})
    return out


def row_spec(name: str, row: Row, base: Mapping[str, Any] | None = None) -> dict:
    """The JSON a worker gets: the merged overrides (base, then the row's), threads and env."""
    return {"row": name, "overrides": {**(base or {}), **row.overrides}, "row_threads": row.threads,
            "env": dict(row.env), "note": row.note}


def build_configs(overrides: Mapping[str, Any]):
    """(DecodeConfig, FeatureConfig) with `overrides` applied; ConfigError names a field this vidsim lacks
    or a value it refuses."""
    from vidsim.config import VidsimConfig, with_overrides

    cfg = with_overrides(VidsimConfig(), dict(overrides))
    return cfg.decode, cfg.features


def check_row(overrides: Mapping[str, Any]) -> str | None:
    """Why the row cannot run in this vidsim (None: it can); the runtime must also be installed."""
    from vidsim.errors import VidsimError
    from vidsim.features.runtimes import resolve_runtime

    try:
        _, features = build_configs(overrides)
        resolve_runtime(features.runtime, features.backbone, features.precision, "cpu")
    except (VidsimError, ValueError, TypeError) as exc:
        return str(exc).splitlines()[0]
    return None
