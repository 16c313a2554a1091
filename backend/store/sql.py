"""The data layer's own SQL statements, and values made storable.

Every value is made storable before it is written: NUL characters (PostgreSQL refuses them
in text) are removed, lone surrogates become U+FFFD, dicts and lists become JSON text.
"""

from __future__ import annotations

import json
from typing import Any

# Step ids come from the browser: an id that is already stored in another thread (someone
# else's conversation) must not be overwritten or moved by it.
SAME_THREAD_ONLY = 'WHERE steps."threadId" = excluded."threadId"'
# A step's conversation, created when missing (Chainlit reads it first, then inserts).
CREATE_THREAD = (
    'INSERT INTO threads ("id", "createdAt", "metadata") VALUES (:id, :createdAt, :metadata) '
    'ON CONFLICT ("id") DO NOTHING'
)
CREATE_USER = (
    'INSERT INTO users ("id", "identifier", "createdAt", "metadata") '
    "VALUES (:id, :identifier, :createdAt, :metadata) "
    'ON CONFLICT ("identifier") DO UPDATE SET "metadata" = excluded."metadata"'
)


def clean_value(value: Any) -> Any:
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, (dict, list)):
        return clean_text(json.dumps(value, ensure_ascii=False))
    return value


def clean_text(value: str) -> str:
    value = value.replace("\x00", "")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        value = value.encode("utf-8", "surrogatepass").decode("utf-8", "replace")
    return value
