"""`vidsim index add|remove|list|stats` and `vidsim search` (registered by vidsim.cli.main)."""
from __future__ import annotations

import argparse


def register(sub, model_options, make_config) -> None:
    """Add the index and search sub-commands to the `vidsim` parser."""
