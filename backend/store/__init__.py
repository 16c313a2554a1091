"""Saved conversations: where they live, how the schema evolves, how writes stay off the
answer's path, and the pure views over a stored conversation (transcript, export).

The chat uses this package; this package never imports the chat.
"""

import logging

# Alembic logs its plugin set-up (on import) and its context at every start, at INFO;
# database.upgrade says itself when the schema was created or upgraded.
logging.getLogger("alembic").setLevel(logging.WARNING)
