"""vidsim.decision: the shipped copy thresholds and which scores they apply to (no video needed)."""
from __future__ import annotations

import dataclasses
import json

import pytest

from vidsim.config import FeatureConfig, SimilarityConfig, VidsimConfig
from vidsim.decision import (
    CODES_CLASSES,
    EXHAUSTIVE,
    TARGET_PRECISION,
    ShippedThreshold,
    copy_decision,
    head_mode,
    read_thresholds,
)
from vidsim.errors import ConfigError
from vidsim.index.config import IndexConfig, threshold_codes

DEFAULT = FeatureConfig.backbone


def shipped(mode: str = "chamfer", codes: str = EXHAUSTIVE) -> ShippedThreshold:
    [entry] = [e for e in read_thresholds() if (e.backbone, e.mode, e.codes) == (DEFAULT, mode, codes)]
    return entry


def with_features(entry: ShippedThreshold, **fields) -> tuple[VidsimConfig, str]:
    """The entry's configuration with feature fields changed, and the feature key it makes with the same files."""
    config = dataclasses.replace(entry.vidsim, features=dataclasses.replace(entry.vidsim.features, **fields))
    return config, config.feature_key(entry.weights_version, entry.whitening_version)


def test_thresholds_ship_for_every_mode_and_codes_of_the_default_backbone():
    entries = read_thresholds()
    modes = {"chamfer", "chamfer-symmetric", "chamfer-symmetric-partial", "visil"}
    assert {(e.mode, e.codes) for e in entries if e.backbone == DEFAULT} == {(m, c) for m in modes for c in CODES_CLASSES}
    for e in entries:
        assert e.dev_precision >= TARGET_PRECISION and 0 < e.dev_recall <= 1 and e.dev_copies > 0
        assert e.command.startswith("python benchmarks/thresholds.py") and e.date[:2] == "20"
        assert head_mode(e.vidsim) == e.mode and e.vidsim.features.backbone == e.backbone


def test_the_calibrated_scores_get_the_threshold_and_runtime_or_precision_do_not_change_that():
    entry = shipped()
    decision = copy_decision(entry.vidsim, entry.feature_key, EXHAUSTIVE)
    assert decision.threshold == entry.threshold and decision.source == "shipped" and decision.note == ""
    assert decision.is_copy(entry.threshold) is True and decision.is_copy(entry.threshold - 1e-6) is False
    assert f"{entry.threshold:.4f}" in decision.describe() and "exhaustive comparison" in decision.describe()
    for fields in ({"runtime": "torch"}, {"runtime": "openvino", "precision": "bf16"}, {"batch_size": 7}):
        config, key = with_features(entry, **fields)
        assert key != entry.feature_key or fields == {"batch_size": 7}
        assert copy_decision(config, key, EXHAUSTIVE).threshold == entry.threshold, fields


def test_other_scores_get_no_decision_and_a_note_naming_why():
    entry = shipped()
    config, key = with_features(entry, dims=128)
    decision = copy_decision(config, key, EXHAUSTIVE)
    assert decision.threshold is None and decision.is_copy(0.99) is None
    assert "features.dims is 128, not None" in decision.note and "--threshold" in decision.note and "\n" not in decision.note
    assert decision.describe() == decision.note and decision.to_dict()["value"] is None

    config, key = with_features(entry, precision="int8", runtime="openvino")  # quantised: scores move further
    assert "features.precision is 'int8', not 'fp32'" in copy_decision(config, key + "x", EXHAUSTIVE).note

    other_files = entry.vidsim.feature_key(entry.weights_version, "refitted.npz:0123456789abcdef")
    assert "whitening" in copy_decision(entry.vidsim, other_files, EXHAUSTIVE).note

    own_head = dataclasses.replace(shipped("visil").vidsim, similarity=SimilarityConfig(head="visil", head_weights="my.pth"))
    note = copy_decision(own_head, shipped("visil").feature_key, EXHAUSTIVE).note
    assert "similarity.head_weights is 'my.pth'" in note

    other = VidsimConfig(features=FeatureConfig(backbone="resnet50"))
    note = copy_decision(other, "0" * 16, "binary").note
    assert note.startswith("no copy threshold ships for resnet50 / chamfer-symmetric-partial / binary codes")
    assert "no copy threshold ships" in copy_decision(entry.vidsim, entry.feature_key, "int4x256").note


def test_a_given_threshold_wins_over_the_shipped_one_and_must_be_a_number():
    entry = shipped()
    decision = copy_decision(entry.vidsim, entry.feature_key, EXHAUSTIVE, threshold=0.9)
    assert decision.threshold == 0.9 and decision.source == "given" and decision.is_copy(0.89) is False
    other = VidsimConfig(features=FeatureConfig(backbone="resnet50"))
    assert copy_decision(other, "0" * 16, "int4x256", threshold=0.2).is_copy(0.3) is True
    with pytest.raises(ConfigError, match="threshold"):
        copy_decision(entry.vidsim, entry.feature_key, EXHAUSTIVE, threshold=float("nan"))


def test_index_codes_map_to_their_threshold_class():
    assert threshold_codes(IndexConfig(), 256) == "float"  # the default, int8
    assert threshold_codes(IndexConfig(codes="binary"), 256) == "binary"
    assert threshold_codes(IndexConfig(codes="float32"), 256) == threshold_codes(IndexConfig(codes="float16"), 256) == "float"
    assert threshold_codes(IndexConfig(codes="float16", code_dims=256), 256) == "float"
    assert threshold_codes(IndexConfig(codes="binary", code_bits=256), 256) == "binary256x256"
    assert threshold_codes(IndexConfig(codes="float32", code_dims=128), 256) == "float32x128"
    assert threshold_codes(IndexConfig(codes="int8", code_dims=128), 256) == "int8x128"


def test_a_damaged_thresholds_file_is_one_config_error_naming_it(tmp_path):
    path = tmp_path / "thresholds.json"
    path.write_text(json.dumps({"thresholds": [{"backbone": "x"}]}))
    with pytest.raises(ConfigError, match=f"{path}: unreadable thresholds file"):
        read_thresholds(path)
    assert read_thresholds(tmp_path / "absent.json") == []
    entry = shipped().to_dict()
    path.write_text(json.dumps({"thresholds": [entry]}))
    assert read_thresholds(path) == [shipped()]


def test_skipping_only_unsampled_frames_keeps_the_threshold_and_skipping_all_does_not():
    from vidsim.config import DecodeConfig

    entry = shipped()
    assert entry.vidsim.decode.skip_nonref == "off"  # calibrated before frames were skipped
    default = VidsimConfig(similarity=SimilarityConfig(symmetric=False))  # skip_nonref "unsampled": the same frames
    key = default.feature_key(entry.weights_version, entry.whitening_version)
    assert key != entry.feature_key
    assert copy_decision(default, key, EXHAUSTIVE).threshold == entry.threshold
    approximate = VidsimConfig(decode=DecodeConfig(skip_nonref="all"), similarity=SimilarityConfig(symmetric=False))
    decision = copy_decision(approximate, approximate.feature_key(entry.weights_version, entry.whitening_version),
                             EXHAUSTIVE)
    assert decision.threshold is None and "decode.skip_nonref is 'all', not 'off'" in decision.note


def test_the_levers_decide_with_the_threshold_of_the_mode_they_score_in():
    """The default mode has its own thresholds; min_frame_std up to 13 leaves the benchmark's frames
    alone, so a threshold calibrated without it still applies; a mirrored query is not calibrated."""
    default = VidsimConfig()
    assert head_mode(default) == "chamfer-symmetric-partial"
    entry = shipped("chamfer-symmetric-partial")
    key = default.feature_key(entry.weights_version, entry.whitening_version)
    assert copy_decision(default, key, EXHAUSTIVE).threshold == entry.threshold
    explicit = VidsimConfig(similarity=SimilarityConfig(symmetric=True, min_frame_std=12.0))
    assert copy_decision(explicit, key, EXHAUSTIVE).threshold == entry.threshold
    plain = shipped("chamfer")
    assert plain.vidsim.similarity.min_frame_std == 0.0  # calibrated before the levers
    no_sym = VidsimConfig(similarity=SimilarityConfig(symmetric=False))  # min_frame_std 8
    assert copy_decision(no_sym, key, EXHAUSTIVE).threshold == plain.threshold
    flipped = VidsimConfig(similarity=SimilarityConfig(flip_query=True))
    note = copy_decision(flipped, key, EXHAUSTIVE).note
    assert "similarity.flip_query is True, not False" in note
    strict = VidsimConfig(similarity=SimilarityConfig(min_frame_std=20.0))
    assert "min_frame_std is 20.0" in copy_decision(strict, key, EXHAUSTIVE).note
