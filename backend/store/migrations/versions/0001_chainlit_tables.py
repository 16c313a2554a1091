"""Chainlit's tables as its published DDL describes them (users, threads, steps,
elements, feedbacks).

Identifiers are text (uuid strings) and JSON is stored as text, so one schema serves
SQLite and PostgreSQL. No foreign keys: the data layer deletes a thread's children itself,
and queued writes must never be refused because of the order in which they land.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("identifier", sa.Text, nullable=False, unique=True),
        sa.Column("metadata", sa.Text, nullable=False),
        sa.Column("createdAt", sa.Text),
    )
    op.create_table(
        "threads",
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("createdAt", sa.Text),
        sa.Column("name", sa.Text),
        sa.Column("userId", sa.Text),
        sa.Column("userIdentifier", sa.Text),
        sa.Column("tags", sa.Text),
        sa.Column("metadata", sa.Text),
    )
    op.create_table(
        "steps",
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("type", sa.Text, nullable=False),
        sa.Column("threadId", sa.Text, nullable=False),
        sa.Column("parentId", sa.Text),
        sa.Column("streaming", sa.Boolean),
        sa.Column("waitForAnswer", sa.Boolean),
        sa.Column("isError", sa.Boolean),
        sa.Column("metadata", sa.Text),
        sa.Column("tags", sa.Text),
        sa.Column("input", sa.Text),
        sa.Column("output", sa.Text),
        sa.Column("createdAt", sa.Text),
        sa.Column("start", sa.Text),
        sa.Column("end", sa.Text),
        sa.Column("generation", sa.Text),
        sa.Column("showInput", sa.Text),
        sa.Column("language", sa.Text),
        sa.Column("indent", sa.Integer),
    )
    op.create_table(
        "elements",
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("threadId", sa.Text),
        sa.Column("type", sa.Text),
        sa.Column("url", sa.Text),
        sa.Column("chainlitKey", sa.Text),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("display", sa.Text),
        sa.Column("objectKey", sa.Text),
        sa.Column("size", sa.Text),
        sa.Column("page", sa.Integer),
        sa.Column("language", sa.Text),
        sa.Column("forId", sa.Text),
        sa.Column("mime", sa.Text),
        sa.Column("props", sa.Text),
    )
    op.create_table(
        "feedbacks",
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("forId", sa.Text, nullable=False),
        sa.Column("threadId", sa.Text),
        sa.Column("value", sa.Integer, nullable=False),
        sa.Column("comment", sa.Text),
    )
