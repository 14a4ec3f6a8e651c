"""The tables of the manager's records (the audit log and usage by day), as SQLAlchemy Core
sees them. Migrations (`migrations/versions`) make and change them; this is what the code
reads and writes, and must match the newest migration (a test compares them)."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
)

metadata = MetaData()

# BIGINT on PostgreSQL; SQLite makes an INTEGER PRIMARY KEY its row id (and counts it itself).
ID = BigInteger().with_variant(Integer(), "sqlite")

audit_entries = Table(
    "audit_entries",
    metadata,
    Column("id", ID, primary_key=True, autoincrement=True),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("actor", String(200), nullable=True),  # None: the manager itself
    Column("actor_is_admin", Boolean, nullable=False, default=False),
    Column("action", String(64), nullable=False),
    Column("owner", String(200), nullable=True),  # whose workspace it was about
    Column("workspace_id", String(64), nullable=True),
    Column("address", String(64), nullable=True),
    Column("result", String(16), nullable=False),  # "ok" or "failed"
    Column("status", Integer, nullable=True),  # the HTTP status of a request
    Column("detail", String(500), nullable=False, default=""),
    Index("audit_entries_at", "at"),
    Index("audit_entries_owner", "owner", "id"),
    Index("audit_entries_workspace", "workspace_id", "id"),
    Index("audit_entries_actor", "actor", "id"),
)

# Seconds of each kind, per UTC day, user and workspace: added to as time passes.
usage_days = Table(
    "usage_days",
    metadata,
    Column("day", Date, primary_key=True),
    Column("owner", String(200), primary_key=True),
    Column("workspace_id", String(64), primary_key=True),
    Column("display_name", String(200), nullable=False, default=""),
    Column("running_seconds", Float, nullable=False, default=0.0),
    Column("cpu_seconds_reserved", Float, nullable=False, default=0.0),  # CPUs × s
    Column("memory_mb_seconds_reserved", Float, nullable=False, default=0.0),  # MB × s
    Column("cpu_seconds_used", Float, nullable=False, default=0.0),  # measured CPU × s
    Column("gpu_seconds", Float, nullable=False, default=0.0),  # GPUs × s
    Column("disk_mb_seconds", Float, nullable=False, default=0.0),  # MB held × s
    Index("usage_days_owner_day", "owner", "day"),
)

# Until when each workspace's time is counted: what makes two managers (and a restarted one)
# count each second once.
usage_marks = Table(
    "usage_marks",
    metadata,
    Column("workspace_id", String(64), primary_key=True),
    Column("counted_until", Float, nullable=False),  # Unix time, s
)
