"""The audit log and usage by day.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "audit_entries",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(200), nullable=True),
        sa.Column("actor_is_admin", sa.Boolean, nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("owner", sa.String(200), nullable=True),
        sa.Column("workspace_id", sa.String(64), nullable=True),
        sa.Column("address", sa.String(64), nullable=True),
        sa.Column("result", sa.String(16), nullable=False),
        sa.Column("status", sa.Integer, nullable=True),
        sa.Column("detail", sa.String(500), nullable=False),
    )
    op.create_index("audit_entries_at", "audit_entries", ["at"])
    op.create_index("audit_entries_owner", "audit_entries", ["owner", "id"])
    op.create_index("audit_entries_workspace", "audit_entries", ["workspace_id", "id"])
    op.create_index("audit_entries_actor", "audit_entries", ["actor", "id"])
    op.create_table(
        "usage_days",
        sa.Column("day", sa.Date, primary_key=True),
        sa.Column("owner", sa.String(200), primary_key=True),
        sa.Column("workspace_id", sa.String(64), primary_key=True),
        sa.Column("display_name", sa.String(200), nullable=False),
        sa.Column("running_seconds", sa.Float, nullable=False),
        sa.Column("cpu_seconds_reserved", sa.Float, nullable=False),
        sa.Column("memory_mb_seconds_reserved", sa.Float, nullable=False),
        sa.Column("cpu_seconds_used", sa.Float, nullable=False),
        sa.Column("gpu_seconds", sa.Float, nullable=False),
        sa.Column("disk_mb_seconds", sa.Float, nullable=False),
    )
    op.create_index("usage_days_owner_day", "usage_days", ["owner", "day"])
    op.create_table(
        "usage_marks",
        sa.Column("workspace_id", sa.String(64), primary_key=True),
        sa.Column("counted_until", sa.Float, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("usage_marks")
    op.drop_table("usage_days")
    op.drop_table("audit_entries")
