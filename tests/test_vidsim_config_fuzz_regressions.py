"""Wrong-shaped and wrong-typed configuration sections (found by the config fuzz target,
tools/fuzz): `VidsimConfig.from_dict` refuses them with a ConfigError naming the field."""
from __future__ import annotations

import pytest

from vidsim.config import VidsimConfig
from vidsim.errors import ConfigError


@pytest.mark.parametrize("data, message", [
    ([1, 2, 3], "a VidsimConfig is an object of sections, got list"),
    ({"decode": [1]}, "DecodeConfig must be an object of fields, got list"),
    ({"features": "efficientnet-lite0"}, "FeatureConfig must be an object of fields, got str"),
    ({"decode": {"fps": "fast"}}, "decode.fps must be a number, got 'fast'"),
    ({"decode": {"batch_size": True}}, "decode.batch_size must be an integer, got True"),
    ({"decode": {"resize": 1.5}}, "decode.resize must be an integer, got 1.5"),
    ({"features": {"dims": [128]}}, r"features.dims must be an integer or null, got \[128\]"),
    ({"features": {"backbone": None}}, "features.backbone must be a string, got None"),
    ({"similarity": {"symmetric": 1}}, "similarity.symmetric must be true or false or null, got 1"),
    ({"similarity": {"head_weights": {"file": "x"}}}, "similarity.head_weights must be a string or null"),
])
def test_wrong_shapes_and_types_are_config_errors(data, message):
    with pytest.raises(ConfigError, match=message):
        VidsimConfig.from_dict(data)


def test_right_types_still_load():
    config = VidsimConfig.from_dict({"decode": {"fps": 2, "max_pixels": 0}, "features": {"dims": None},
                                     "similarity": {"symmetric": True}})
    assert config.decode.fps == 2 and config.features.dims is None and config.similarity.symmetric
    assert VidsimConfig.from_dict(VidsimConfig().to_dict()) == VidsimConfig()
