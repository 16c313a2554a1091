"""Entry point: ``python -m backend.planner``."""

import sys

from backend.planner.cli import main

sys.exit(main())
