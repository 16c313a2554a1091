import sys

from backend.auth.cli import main

sys.exit(main())
