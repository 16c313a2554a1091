"""Entry point: ``python -m backend.engine serve|env``."""

import sys

from backend.engine.cli import main

sys.exit(main())
