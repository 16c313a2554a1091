"""What start.sh checks and needs before anything starts: ``python -m backend.preflight``.

Reads the configuration, refuses a chat opened to a network with no account
(backend.auth.policy), and prints shell assignments for start.sh; on a problem, exit 2 and
one line that names it.
"""

from __future__ import annotations

import sys

from backend.auth.policy import plan_auth
from backend.config import Config, shell_assignments


def main() -> int:
    try:
        config = Config.from_env()
        plan_auth(config)
        print("\n".join(shell_assignments(config)))
    except ValueError as exc:  # ConfigError, AuthSetupError, UsersFileError
        sys.stderr.write(f"{exc}\n")
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
