"""One error type for bad configuration: ConfigError (a VidsimError and a ValueError), with the
allowed values of Literal-typed fields taken from their types."""
import pytest

from vidsim.config import DecodeConfig, FeatureConfig, SimilarityConfig, VidsimConfig
from vidsim.errors import ConfigError, VidsimError
from vidsim.index.codes import make_codec
from vidsim.index.config import CODES, IndexConfig, SearchConfig
from vidsim.train.recipe import TrainRecipe
from vidsim.units import format_mmss


def test_literal_fields_refuse_other_values_listing_the_allowed_ones():
    with pytest.raises(ConfigError, match="unknown strategy 'teleport': auto, decode, seek"):
        DecodeConfig(strategy="teleport")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="unknown precision 'fp16': fp32, bf16"):
        FeatureConfig(precision="fp16")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="unknown head"):
        VidsimConfig(similarity=SimilarityConfig(head="nope"))  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="unknown lr_schedule"):
        TrainRecipe(lr_schedule="linear")  # type: ignore[arg-type]


def test_config_errors_are_vidsim_errors_and_value_errors():
    for bad in (lambda: IndexConfig(codes="int2"), lambda: make_codec("int2"), lambda: SearchConfig(candidates=0),
                lambda: VidsimConfig.from_dict({"decode": {"fsp": 1}}), lambda: TrainRecipe.from_dict({"epoch": 1})):
        with pytest.raises(ConfigError) as err:
            bad()
        assert isinstance(err.value, VidsimError) and isinstance(err.value, ValueError)
    assert CODES == ("float32", "float16", "int8", "int4", "binary")
    with pytest.raises(ConfigError, match="unknown codes 'int2': float32, float16, int8, int4, binary"):
        IndexConfig(codes="int2")  # type: ignore[arg-type]


def test_format_mmss():
    assert [format_mmss(s) for s in (0, 59.4, 61, 3599.6, 3600, 7325, -3)] == [
        "00:00", "00:59", "01:01", "1:00:00", "1:00:00", "2:02:05", "00:00"]
