"""Fuzzing harnesses for vidsim's input readers (atheris, or a built-in random mutator).

Targets: decode (probe + first frames of a media file), groundtruth (VSC22 / FIVR / VCSL
readers), config (an index's config.json), catalog (an index's catalog.sqlite). Any exception
other than a VidsimError is a bug. Run `python -m tools.fuzz --seconds 120` (tools/fuzz/run.py).
"""
