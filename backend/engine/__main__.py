"""Entry point: ``python -m backend.engine serve|env|command|profiles`` (see cli.py)."""

import sys

from backend.engine.cli import main

sys.exit(main())
