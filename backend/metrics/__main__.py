"""``python -m backend.metrics``: start Prometheus for the chat and vLLM (scripts/monitor)."""

import sys

from backend.metrics.cli import main

sys.exit(main())
