"""The data layer's own SQL statements, and values made storable.

Every value is made storable before it is written: NUL characters (PostgreSQL refuses them
in text) are removed, lone surrogates become U+FFFD, dicts and lists become JSON text.
"""

from __future__ import annotations

import functools
import json
import math
import uuid
from typing import Any

from backend.store.transcript import as_dict

# Step ids come from the browser: an id that is already stored in another thread (someone
# else's conversation) must not be overwritten or moved by it.
SAME_THREAD_ONLY = 'WHERE steps."threadId" = excluded."threadId"'
# A step's conversation, created when missing (Chainlit reads it first, then inserts).
CREATE_THREAD = (
    'INSERT INTO threads ("id", "createdAt", "metadata") VALUES (:id, :createdAt, :metadata) '
    'ON CONFLICT ("id") DO NOTHING'
)
THREAD_EXISTS = 'SELECT "id" FROM threads WHERE "id" = :id'
# Each message's command and modes (Chainlit's get_thread query leaves both columns out).
STEP_EXTRAS = (
    'SELECT "id", "command", "modes" FROM steps WHERE "threadId" = :t '
    'AND ("command" <> \'\' OR "modes" IS NOT NULL)'
)
CREATE_USER = (
    'INSERT INTO users ("id", "identifier", "createdAt", "metadata") '
    "VALUES (:id, :identifier, :createdAt, :metadata) "
    'ON CONFLICT ("identifier") DO UPDATE SET "metadata" = excluded."metadata"'
)


def storable(value: Any) -> Any:
    """``value`` with every string cleaned (`clean_text`, keys too) and NaN or infinities
    as None, so its JSON text is read by SQLite and PostgreSQL alike."""
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {clean_text(k) if isinstance(k, str) else k: storable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [storable(item) for item in value]
    return value


def clean_value(value: Any) -> Any:
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, (dict, list)):
        return clean_text(json.dumps(value, ensure_ascii=False))
    return value


def clean_text(value: str) -> str:
    if value.isascii():  # no surrogates to replace (the usual case, checked fast)
        return value.replace("\x00", "") if "\x00" in value else value
    value = value.replace("\x00", "")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        value = value.encode("utf-8", "surrogatepass").decode("utf-8", "replace")
    return value


def thread_upsert(
    sqlite: bool,
    thread_id: str,
    created_at: str,
    *,
    name: str | None = None,
    user_id: str | None = None,
    user_identifier: str | None = None,
    metadata: dict[str, Any] | None = None,
    tags: list[str] | None = None,
) -> tuple[str, dict[str, Any]] | None:
    """Chainlit's ``update_thread`` as one statement (it reads the thread's metadata first).

    The same result: the thread is created when missing; its metadata is merged at the top
    level (a key given as None is removed); its name is ``name``, else the merged metadata's
    "name", else unchanged; user and tags change only when given. Stored metadata that is
    JSON but not an object counts as empty; stored text the database cannot read as JSON
    (NaN, or on PostgreSQL "\\u0000") makes the statement fail, and the caller then uses
    Chainlit's method. None for a metadata key that is not plain (use Chainlit's method).
    Pass ``metadata`` through `storable` first: what it writes must be JSON both engines read.
    """
    changes = not (metadata is None and name is None and user_id is None and tags is None)
    metadata = metadata or {}
    if not all(_plain_key(key) for key in metadata):
        return None
    removed = [key for key, value in metadata.items() if value is None]
    added = {key: value for key, value in metadata.items() if value is not None}
    if name is None:
        name = added.get("name")
    given = {"name": name, "userId": user_id, "userIdentifier": user_identifier, "tags": tags}
    params: dict[str, Any] = {"id": thread_id, "createdAt": created_at}
    params.update((column, value) for column, value in given.items() if value is not None)
    params["metadata"] = json.dumps(added)
    columns = ", ".join(f'"{column}"' for column in params)
    insert = f"INSERT INTO threads ({columns}) VALUES ({', '.join(f':{c}' for c in params)}) "
    if not changes:  # create it if missing, as it is
        return insert + 'ON CONFLICT ("id") DO NOTHING', params
    old = 'threads."metadata"'
    if sqlite:
        # json_type fails on malformed text: the caller falls back (see the docstring)
        merged = f"CASE WHEN coalesce({old}, '') = '' THEN '{{}}' "
        merged += f"WHEN json_type({old}) = 'object' THEN {old} ELSE '{{}}' END"
        stored_name = f"json_extract({merged}, '$.name')"
        paths = {key: f"p{i}" for i, key in enumerate(metadata)}
        params.update((paths[key], f'$."{key}"') for key in metadata)
        if removed:
            merged = f"json_remove({merged}, {', '.join(f':{paths[k]}' for k in removed)})"
        if added:
            params.update((f"v{paths[k]}", json.dumps(v)) for k, v in added.items())
            pairs = ", ".join(f":{paths[k]}, json(:v{paths[k]})" for k in added)
            merged = f"json_set({merged}, {pairs})"
    else:
        merged = f"COALESCE(CAST(NULLIF({old}, '') AS jsonb), '{{}}'::jsonb)"
        merged = f"(CASE WHEN jsonb_typeof({merged}) = 'object' THEN {merged} ELSE '{{}}' END)"
        stored_name = f"({merged} ->> 'name')"
        for i, key in enumerate(removed):
            params[f"r{i}"] = key
            merged = f"({merged} - CAST(:r{i} AS text))"
        params["added"] = params["metadata"]
        merged = f"CAST({merged} || CAST(CAST(:added AS text) AS jsonb) AS text)"
    updates = {column: f":{column}" for column in given if column in params}
    updates["metadata"] = merged
    if name is None and "name" not in removed:  # the stored metadata's name, if it has one
        updates["name"] = f'COALESCE({stored_name}, threads."name")'
    sets = ", ".join(f'"{column}" = {value}' for column, value in updates.items())
    return insert + f'ON CONFLICT ("id") DO UPDATE SET {sets}', params


def user_upsert(identifier: str, metadata: dict[str, Any], now: str) -> tuple[str, dict[str, Any]]:
    """The user created, or its metadata updated, in one statement (Chainlit reads first)."""
    params = {"id": str(uuid.uuid4()), "identifier": identifier, "createdAt": now}
    return CREATE_USER, {**params, "metadata": json.dumps(metadata)}


def step_upsert(step: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """Chainlit's create_step statement (its values as it prepares them), kept to the step's
    own thread (`SAME_THREAD_ONLY`)."""
    step["showInput"] = str(step["showInput"]).lower() if "showInput" in step else None
    params = {
        key: value
        for key, value in step.items()
        if value is not None and not (isinstance(value, dict) and not value)
    }
    params["metadata"] = json.dumps(step.get("metadata", {}))
    params["generation"] = json.dumps(step.get("generation", {}))
    return _step_statement(tuple(params)), params


@functools.lru_cache(maxsize=256)
def _step_statement(keys: tuple[str, ...]) -> str:
    """The upsert for a step with these keys (steps come in a handful of shapes)."""
    columns = ", ".join(f'"{key}"' for key in keys)
    values = ", ".join(f":{key}" for key in keys)
    updates = ", ".join(f'"{key}" = :{key}' for key in keys if key != "id")
    query = f"INSERT INTO steps ({columns}) VALUES ({values}) "
    return query + f"ON CONFLICT (id) DO UPDATE SET {updates} {SAME_THREAD_ONLY}"


def _plain_key(key: object) -> bool:
    """A key SQLite's JSON paths find as written: printable ASCII without quote or backslash
    (the stored JSON may spell other characters as escapes, which its paths do not match)."""
    return (
        isinstance(key, str) and key.isascii() and key.isprintable() and not set(key) & {'"', "\\"}
    )


def steps_after(thread_id: str, created_at: str, keep: list[str]) -> list[tuple[str, dict]]:
    """The statements that remove a thread's steps created after ``created_at`` (an edited
    message), but those in ``keep``, and their feedback."""
    keep_sql = ", ".join(f":k{i}" for i in range(len(keep))) or "''"
    params = {"t": thread_id, "c": created_at, **{f"k{i}": k for i, k in enumerate(keep)}}
    later = f'"threadId" = :t AND "createdAt" > :c AND "id" NOT IN ({keep_sql})'
    feedback = f'DELETE FROM feedbacks WHERE "forId" IN (SELECT "id" FROM steps WHERE {later})'
    return [(feedback, params), (f"DELETE FROM steps WHERE {later}", params)]


def add_step_extras(steps: list[Any], rows: object) -> None:
    """Put `STEP_EXTRAS` back into a thread's steps: the mode label a message was sent with
    (``command``) and the thinking budget picked for it (``modes``)."""
    found = {row["id"]: row for row in rows} if isinstance(rows, list) else {}
    for step in steps:
        if (row := found.get(step["id"])) is None:
            continue
        if row["command"]:
            step["command"] = row["command"]
        if modes := as_dict(row["modes"]):
            step["modes"] = modes
