"""`python -m tools.fuzz`: see tools/fuzz/run.py."""
from tools.fuzz.run import main

raise SystemExit(main())
