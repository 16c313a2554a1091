"""Entry point: ``python -m backend.loadtest``."""

import sys

from backend.loadtest.cli import main

if __name__ == "__main__":  # client processes are spawned: importing must not run a test
    sys.exit(main())
