"""account_index.search_text: one lowercased column to search

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27 01:10:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("account_index", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("search_text", sa.String(length=600), server_default="", nullable=False)
        )
        batch_op.create_index("ix_account_index_search", ["search_text", "username"], unique=False)
    # The index is a cache: empty it and forget the sync stamp, so the next list rebuilds
    # it from disk with the new column filled in.
    op.execute("DELETE FROM account_index")
    op.execute("DELETE FROM index_state")


def downgrade() -> None:
    with op.batch_alter_table("account_index", schema=None) as batch_op:
        batch_op.drop_index("ix_account_index_search")
        batch_op.drop_column("search_text")
