"""`python -m vidsim`: the same as the `vidsim` command."""
import sys

from vidsim.cli.main import main

sys.exit(main())
