"""The copy decision: a similarity at or above a threshold means "this is a copy" (`is_copy`).

vidsim ships thresholds (`src/vidsim/data/thresholds.json`, written by
`benchmarks/thresholds.py`) per backbone, head mode and codes: "exhaustive" for pairs compared
on their full features (`vidsim compare`, `matrix`, `evaluate`), "binary" / "float" for
`vidsim search` on an index with those codes. Each was chosen on the benchmark's dev split as
the threshold with the highest recall at precision >= 0.95. A shipped threshold applies only to
the scores it was calibrated on: the same features (feature key, up to the inference runtime and
fp32 / bf16 precision, which move scores by about 1e-3) and the same similarity configuration
(head, head weights, symmetric). Anywhere else the decision is None, with a one-line note saying
so and how to set a threshold (`--threshold`, `threshold=`), which always wins over the shipped one.
"""
from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from vidsim.config import VOLATILE_DECODE_FIELDS, VOLATILE_FEATURE_FIELDS, VidsimConfig
from vidsim.errors import ConfigError
from vidsim.resources import packaged_thresholds

__all__ = ["TARGET_PRECISION", "EXHAUSTIVE", "CODES_CLASSES", "ShippedThreshold", "CopyDecision",
           "read_thresholds", "head_mode", "copy_decision", "model_decision"]

TARGET_PRECISION = 0.95  # the dev precision every shipped threshold keeps
EXHAUSTIVE = "exhaustive"  # codes class of a comparison on full features (no index)
CODES_CLASSES = (EXHAUSTIVE, "binary", "float")  # those benchmarks/thresholds.py calibrates
# feature fields that change scores by about 1e-3 at most (runtimes agree within 1e-4 at fp32,
# bf16 drifts by ~1.4e-3: benchmarks/results/bf16_drift.md): a threshold holds across them; int8
# (quantised networks) moves scores further and needs its own calibration
_LOOSE_FEATURE_FIELDS = ("runtime", "precision")
# skip_nonref values that give the same sampled frames ("unsampled" drops only frames no sample shows:
# benchmarks/results/decode_accuracy.md): a threshold calibrated with one holds for the other
_SAME_FRAMES = ("off", "unsampled")
_LOOSE_PRECISIONS = ("fp32", "bf16")
# every frame of the benchmark's dev and test videos has a pixel standard deviation of at least 13.4
# (benchmarks/results/levers.md): up to 13, min_frame_std leaves no calibration frame out, so a
# threshold calibrated at one such value is the one calibrated at any other
_SAME_SCORES_MIN_FRAME_STD = 13.0
DecisionSource = Literal["shipped", "given"]


@dataclass(frozen=True)
class ShippedThreshold:
    """One entry of thresholds.json: the threshold, what it was calibrated on, how well it did on dev."""

    backbone: str
    mode: str  # head mode label: chamfer, chamfer-symmetric, visil, ...
    codes: str  # one of CODES_CLASSES
    threshold: float
    dev_precision: float
    dev_recall: float
    dev_copies: int
    dev_pairs: int
    date: str
    command: str
    vidsim: VidsimConfig  # the configuration whose scores were calibrated
    weights_version: str
    whitening_version: str
    feature_key: str

    @property
    def label(self) -> str:
        codes = "exhaustive comparison" if self.codes == EXHAUSTIVE else f"{self.codes} codes"
        return f"{self.backbone} / {self.mode} / {codes}"

    def mismatch(self, config: VidsimConfig, feature_key: str) -> str:
        """Why scores made with `config` (features with `feature_key`) are not the calibrated ones; "" if they are."""
        loose = {name: getattr(config.features, name) for name in _LOOSE_FEATURE_FIELDS}
        if not {loose["precision"], self.vidsim.features.precision} <= set(_LOOSE_PRECISIONS):
            loose.pop("precision")
        decode = self.vidsim.decode
        if decode.skip_nonref in _SAME_FRAMES and config.decode.skip_nonref in _SAME_FRAMES:
            decode = dataclasses.replace(decode, skip_nonref=config.decode.skip_nonref)
        calibrated = dataclasses.replace(self.vidsim, decode=decode,
                                         features=dataclasses.replace(self.vidsim.features, **loose))
        reasons = []
        if calibrated.feature_key(self.weights_version, self.whitening_version) != feature_key:
            ignored = {f"decode.{n}" for n in VOLATILE_DECODE_FIELDS} | {
                f"features.{n}" for n in (*VOLATILE_FEATURE_FIELDS, *loose)}
            reasons = [d for d in _differences(calibrated.to_dict(), config.to_dict(), ("decode", "features"))
                       if d.split(" ")[0] not in ignored]
            reasons = reasons or ["other backbone weights or whitening files"]
        reasons += _differences(_scoring(calibrated), _scoring(config), ("similarity",))
        return "; ".join(reasons)

    def to_dict(self) -> dict[str, Any]:
        return {"backbone": self.backbone, "mode": self.mode, "codes": self.codes, "threshold": self.threshold,
                "dev": {"precision": self.dev_precision, "recall": self.dev_recall, "copies": self.dev_copies,
                        "pairs": self.dev_pairs},
                "date": self.date, "command": self.command,
                "calibrated_with": {"vidsim": self.vidsim.to_dict(), "weights_version": self.weights_version,
                                    "whitening_version": self.whitening_version, "feature_key": self.feature_key}}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ShippedThreshold:
        dev, calibrated = data["dev"], data["calibrated_with"]
        threshold = float(data["threshold"])
        if not math.isfinite(threshold):
            raise ValueError(f"threshold {threshold} is not a number")
        return cls(str(data["backbone"]), str(data["mode"]), str(data["codes"]), threshold,
                   float(dev["precision"]), float(dev["recall"]), int(dev["copies"]), int(dev["pairs"]),
                   str(data["date"]), str(data["command"]), VidsimConfig.from_dict(calibrated["vidsim"]),
                   str(calibrated["weights_version"]), str(calibrated["whitening_version"]),
                   str(calibrated["feature_key"]))


def _differences(calibrated: dict[str, Any], actual: dict[str, Any], sections: tuple[str, ...]) -> list[str]:
    return [f"{section}.{name} is {actual[section].get(name)!r}, not {value!r}"
            for section in sections for name, value in calibrated[section].items()
            if actual[section].get(name) != value]


@dataclass(frozen=True)
class CopyDecision:
    """How results are decided: the threshold (None: no decision, `note` says why) and where it came from."""

    threshold: float | None
    source: DecisionSource | None = None
    shipped: ShippedThreshold | None = None  # the calibration, when shipped
    note: str = ""  # why there is no threshold (empty when there is one)

    def is_copy(self, similarity: float) -> bool | None:
        """True when `similarity` reaches the threshold; None when there is none."""
        return None if self.threshold is None else bool(similarity >= self.threshold)

    def describe(self) -> str:
        """One line for people: the threshold and its origin, or the note."""
        if self.threshold is None:
            return self.note
        if self.shipped is None:
            return f"copy threshold {self.threshold:.4f} (given)"
        s = self.shipped
        return (f"copy threshold {self.threshold:.4f} (shipped for {s.label}: dev precision {s.dev_precision:.2f}, "
                f"recall {s.dev_recall:.2f})")

    def to_dict(self) -> dict[str, Any]:
        """The JSON form: {"value", "source", "calibration", "note"}."""
        return {"value": self.threshold, "source": self.source,
                "calibration": self.shipped.label if self.shipped else None, "note": self.note or None}


def head_mode(config: VidsimConfig) -> str:
    """The head's mode label for `config` (as `ViSiLHead.mode` prints it)."""
    similarity = config.similarity
    if not similarity.resolved_symmetric:
        return similarity.head
    return f"{similarity.head}-symmetric-partial" if similarity.symmetric_partial else f"{similarity.head}-symmetric"


def _scoring(config: VidsimConfig) -> dict[str, Any]:
    """`config.to_dict()` with the similarity section as it scores: symmetric resolved for the head,
    symmetric_partial only where symmetric, min_frame_std 0 up to `_SAME_SCORES_MIN_FRAME_STD`."""
    data = config.to_dict()
    similarity = dict(data["similarity"])
    similarity["symmetric"] = config.similarity.resolved_symmetric
    if not similarity["symmetric"]:
        similarity["symmetric_partial"] = False
    if similarity["min_frame_std"] <= _SAME_SCORES_MIN_FRAME_STD:
        similarity["min_frame_std"] = 0.0
    return {**data, "similarity": similarity}


def read_thresholds(path: Path | None = None) -> list[ShippedThreshold]:
    """The entries of a thresholds file (default: the packaged one; none if it is absent)."""
    path = packaged_thresholds() if path is None else Path(path)
    if not path.is_file():
        return []
    try:
        data = json.loads(path.read_text())
        return [ShippedThreshold.from_dict(entry) for entry in data["thresholds"]]
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ConfigError(f"{path}: unreadable thresholds file ({exc!r})") from None


def copy_decision(config: VidsimConfig, feature_key: str, codes: str, threshold: float | None = None,
                  entries: list[ShippedThreshold] | None = None) -> CopyDecision:
    """The decision for scores made with `config` / `feature_key` on `codes` (EXHAUSTIVE, "binary",
    "float", or another index codes label): `threshold` when given, else the shipped one
    calibrated on those scores, else none (with a note)."""
    if threshold is not None:
        if not math.isfinite(threshold):
            raise ConfigError(f"--threshold must be a number, got {threshold}")
        return CopyDecision(float(threshold), "given")
    backbone, mode = config.features.backbone, head_mode(config)
    shown = "exhaustive comparison" if codes == EXHAUSTIVE else f"{codes} codes"
    how = "is_copy is null; set a threshold calibrated on your own labelled pairs with --threshold"
    candidates = [e for e in (read_thresholds() if entries is None else entries)
                  if (e.backbone, e.mode, e.codes) == (backbone, mode, codes)]
    if not candidates:
        return CopyDecision(None, note=f"no copy threshold ships for {backbone} / {mode} / {shown}: {how}")
    entry = candidates[0]
    why = entry.mismatch(config, feature_key)
    if why:
        return CopyDecision(None, note=f"the shipped copy threshold for {entry.label} was calibrated on other "
                                       f"scores ({why}): {how}")
    return CopyDecision(entry.threshold, "shipped", entry)


def model_decision(model: Any, threshold: float | None = None) -> CopyDecision:
    """The decision for a `vidsim.ViSiL`'s exhaustive comparisons (compare, matrix)."""
    return copy_decision(model.config, model.feature_key, EXHAUSTIVE, threshold)
