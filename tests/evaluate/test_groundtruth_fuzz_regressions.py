"""Crashes the ground-truth fuzz target (tools/fuzz) found: well-formed JSON of the wrong shape
and JSON nested too deeply; each is now a ConfigError naming the file."""
from __future__ import annotations

import pytest

from vidsim.errors import ConfigError
from vidsim.evaluate.groundtruth import read_fivr_annotation, read_vcsl_labels, read_vcsl_query_sets


@pytest.mark.parametrize("read, content, message", [
    # a label whose value is not a list of ids: TypeError iterating it
    (read_fivr_annotation, '{"q1": {"ND": 5}}', r"expected \{query: \{label: \[video ids\]\}\}"),
    (lambda p: read_fivr_annotation(p, "ISVR", database=["v1"]), '{"q1": {"IS": {"v1": 1}}, "q2": {}}',
     r"expected \{query: \{label"),
    # a query set that is not a list of pair keys: TypeError; a pair key that is a number: AttributeError
    (read_vcsl_query_sets, '{"test": {"set1": 5}}', r"expected \{split: \{query_set"),
    (read_vcsl_query_sets, '{"test": {"set1": ["aa01-bb01", 3]}}', "pair key 3 is not a '<query_id>-<ref_id>' string"),
    (lambda p: read_vcsl_query_sets(p, "all"), '{"test": {"s": [null]}}', "pair key None is not"),
    # nested deeper than Python's recursion limit: RecursionError from json
    (read_vcsl_labels, "[" * 100_000, "JSON nested too deeply to read"),
    (read_fivr_annotation, '{"q": ' * 50_000, "JSON nested too deeply to read"),
])
def test_wrong_shaped_json_is_a_config_error_naming_the_file(tmp_path, read, content, message):
    path = tmp_path / "groundtruth.json"
    path.write_text(content)
    with pytest.raises(ConfigError, match=message) as err:
        read(path)
    assert str(path) in str(err.value)
