"""``python -m quake``: the command-line interface."""

import sys

from quake.cli import main

sys.exit(main())
