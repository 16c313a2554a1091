"""Entry point: ``python -m backend.loadtest``."""

import sys

from backend.loadtest.cli import main

sys.exit(main())
