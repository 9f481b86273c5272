"""One identity per account: staff-only logins, sessions bound to an account's identity,
the audit journal's event ids

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29 19:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LOGIN_NAME = sa.String(length=64).with_variant(
    mysql.VARCHAR(length=64, collation="utf8mb4_bin"), "mysql", "mariadb"
)


def upgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.alter_column(
            "username", existing_type=sa.String(length=64), type_=LOGIN_NAME, nullable=False
        )
        batch_op.alter_column("password_hash", existing_type=sa.String(length=255), nullable=True)
        batch_op.add_column(
            sa.Column("status", sa.String(length=16), server_default="active", nullable=False)
        )
        batch_op.add_column(sa.Column("last_login_ip", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("last_login_at", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("auth_sessions", schema=None) as batch_op:
        batch_op.alter_column(
            "username", existing_type=sa.String(length=64), type_=LOGIN_NAME, nullable=False
        )
        batch_op.add_column(sa.Column("account_uid", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("account_created", sa.String(length=40), nullable=True))
    with op.batch_alter_table("audit_logs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("event_id", sa.String(length=32), nullable=True))
        batch_op.create_unique_constraint("uq_audit_logs_event_id", ["event_id"])
    with op.batch_alter_table("account_index", schema=None) as batch_op:
        batch_op.add_column(sa.Column("uid", sa.Integer(), server_default="0", nullable=False))
        batch_op.add_column(
            sa.Column("created_at", sa.String(length=40), server_default="", nullable=False)
        )
    # Hosting accounts log in with their system password now: their old panel rows and
    # sessions (not bound to an identity) go. The index is a cache: rebuilt with the
    # identity columns at the next list.
    op.execute(
        "DELETE FROM refresh_tokens WHERE session_id IN "
        "(SELECT id FROM auth_sessions WHERE role = 'user')"
    )
    op.execute("DELETE FROM auth_sessions WHERE role = 'user'")
    op.execute("DELETE FROM users WHERE role = 'user'")
    op.execute("DELETE FROM account_index")
    op.execute("DELETE FROM index_state")


def downgrade() -> None:
    with op.batch_alter_table("account_index", schema=None) as batch_op:
        batch_op.drop_column("created_at")
        batch_op.drop_column("uid")
    with op.batch_alter_table("audit_logs", schema=None) as batch_op:
        batch_op.drop_constraint("uq_audit_logs_event_id", type_="unique")
        batch_op.drop_column("event_id")
    with op.batch_alter_table("auth_sessions", schema=None) as batch_op:
        batch_op.drop_column("account_created")
        batch_op.drop_column("account_uid")
        batch_op.alter_column("username", existing_type=LOGIN_NAME, type_=sa.String(length=64))
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("last_login_at")
        batch_op.drop_column("last_login_ip")
        batch_op.drop_column("status")
        batch_op.alter_column("password_hash", existing_type=sa.String(length=255), nullable=False)
        batch_op.alter_column("username", existing_type=LOGIN_NAME, type_=sa.String(length=64))
