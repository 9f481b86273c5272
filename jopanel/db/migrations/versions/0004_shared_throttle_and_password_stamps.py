"""The login throttle in the database (shared by every API worker), and sessions bound
to the shadow hash they were opened on

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-07 06:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

THROTTLE_KEY = sa.String(length=80).with_variant(
    mysql.VARCHAR(length=80, collation="utf8mb4_bin"), "mysql", "mariadb"
)


def upgrade() -> None:
    op.create_table(
        "login_attempts",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("key", THROTTLE_KEY, nullable=False),
        sa.Column("at_ms", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("login_attempts", schema=None) as batch_op:
        batch_op.create_index("ix_login_attempts_at", ["at_ms"], unique=False)
        batch_op.create_index("ix_login_attempts_key_at", ["key", "at_ms"], unique=False)
    # Sessions opened before this revision name no hash: an account's end at its next
    # request (its holder logs in again); staff sessions carry none and go on.
    with op.batch_alter_table("auth_sessions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("password_stamp", sa.String(length=32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("auth_sessions", schema=None) as batch_op:
        batch_op.drop_column("password_stamp")
    with op.batch_alter_table("login_attempts", schema=None) as batch_op:
        batch_op.drop_index("ix_login_attempts_key_at")
        batch_op.drop_index("ix_login_attempts_at")
    op.drop_table("login_attempts")
