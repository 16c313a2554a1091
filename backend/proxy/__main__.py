"""Entry point: ``python -m backend.proxy`` (see cli.py)."""

import sys

from backend.proxy.cli import main

sys.exit(main())
