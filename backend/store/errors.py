"""What a failed database write was: an outage (retry) or content the database refuses
(drop after a few tries), and a one-line description for the log and the user's notice."""

from __future__ import annotations

from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, ProgrammingError


def refused(exc: Exception) -> bool:
    """Not an outage: the database said no to this content, or the write itself failed."""
    if isinstance(exc, (IntegrityError, DataError, ProgrammingError)):
        return True
    if str(getattr(getattr(exc, "orig", None), "sqlstate", "")).startswith("22"):
        return True  # PostgreSQL's data exceptions, as asyncpg's adapter passes them on
    return not isinstance(exc, (DBAPIError, OSError, TimeoutError))


def describe(exc: Exception) -> str:
    text = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:200]
