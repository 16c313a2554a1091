"""``python -m backend.store``: migrate the conversation database once, before the chat.

start.sh runs it ahead of several chat workers, so they do not race to create the schema
(each worker's own start then finds it at head). A database problem is printed and is not
an error here: the workers report it in the chat, as a single chat does.
"""

import sys

from backend.config import Config, ConfigError
from backend.store.database import prepare

try:
    config = Config.from_env()
except ConfigError as exc:
    sys.exit(str(exc))
if config.save_history:
    database = prepare(config)
    if not database.ok:
        print(f"History will be off: {database.problem}", file=sys.stderr)
