"""Options a user gave, applied on top of a stored or default configuration (no model built)."""
import pytest

from vidsim.config import VidsimConfig, with_overrides
from vidsim.index import IndexConfig
from vidsim.index.config import split_overrides
from vidsim.units import format_bytes


def test_dotted_overrides_replace_only_the_fields_named():
    base = VidsimConfig()
    config = with_overrides(base, {"decode.fps": 0.5, "features.dims": 128})
    assert (config.decode.fps, config.features.dims) == (0.5, 128)
    assert config.features.backbone == base.features.backbone and config.decode.crop == base.decode.crop
    assert with_overrides(base, {}) is base
    # a level is rebuilt once: VidsimConfig resolves "auto" with the new backbone
    auto = with_overrides(base, {"similarity.head_weights": "auto", "features.backbone": "resnet50"})
    assert auto.similarity.head_weights.startswith("packaged:resnet50")
    index = with_overrides(IndexConfig(codes="int8"), {"search.candidates": 5, "search.window_speed": None})
    assert (index.codes, index.search.candidates, index.search.window_speed) == ("int8", 5, None)
    with pytest.raises(ValueError, match="decode.speed"):
        with_overrides(base, {"decode.speed": 2})
    with pytest.raises(ValueError):
        with_overrides(base, {"decode.fps.x": 2})


def test_index_overrides_are_split_by_their_place_in_config_json():
    index, vidsim = split_overrides({"index.codes": "int8", "index.search.candidates": 5, "vidsim.decode.fps": 2.0})
    assert index == {"codes": "int8", "search.candidates": 5} and vidsim == {"decode.fps": 2.0}
    with pytest.raises(ValueError, match="features.dims"):
        split_overrides({"features.dims": 128})


@pytest.mark.parametrize("size, text", [(0, "0 B"), (1023, "1023 B"), (1024, "1.0 KB"), (1536, "1.5 KB"),
                                        (5 * 2**20, "5.0 MB"), (3 * 2**30, "3.0 GB"), (2**40, "1024.0 GB")])
def test_format_bytes(size, text):
    assert format_bytes(size) == text
