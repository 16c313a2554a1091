"""Columns Chainlit 2.12 writes that its published DDL lacks, and the indexes the chat's
queries use (a user's threads; a thread's steps in order; feedback by step).

Steps: ``command`` (the message's mode), ``modes``, ``defaultOpen``, ``autoCollapse``;
elements: ``autoPlay``, ``playerConfig``.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"


def upgrade() -> None:
    with op.batch_alter_table("steps") as steps:
        steps.add_column(sa.Column("command", sa.Text))
        steps.add_column(sa.Column("modes", sa.Text))
        steps.add_column(sa.Column("defaultOpen", sa.Boolean))
        steps.add_column(sa.Column("autoCollapse", sa.Boolean))
    with op.batch_alter_table("elements") as elements:
        elements.add_column(sa.Column("autoPlay", sa.Boolean))
        elements.add_column(sa.Column("playerConfig", sa.Text))
    op.create_index("ix_threads_user", "threads", ["userId"])
    op.create_index("ix_steps_thread_created", "steps", ["threadId", "createdAt"])
    op.create_index("ix_feedbacks_for", "feedbacks", ["forId"])
