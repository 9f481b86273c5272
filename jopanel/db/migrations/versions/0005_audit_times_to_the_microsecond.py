"""Audit times to the microsecond on MariaDB/MySQL (other backends already keep them)

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-07 13:45:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _mysql() -> bool:
    return op.get_bind().dialect.name in ("mysql", "mariadb")


def upgrade() -> None:
    if _mysql():
        op.alter_column("audit_logs", "at", type_=mysql.DATETIME(fsp=6), existing_nullable=False)


def downgrade() -> None:
    if _mysql():
        op.alter_column(
            "audit_logs", "at", type_=sa.DateTime(timezone=True), existing_nullable=False
        )
