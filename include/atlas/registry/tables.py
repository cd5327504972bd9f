"""The registry's tables (SQLAlchemy Core). On PostgreSQL they live in the schema ``pipeline``."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects import mysql

# Microseconds on MySQL too (its DATETIME drops them by default).
TIMESTAMP = sa.DateTime(timezone=True).with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")

metadata = sa.MetaData()

#: Schema of the registry tables per dialect; other dialects use the connection's database.
SCHEMA_BY_DIALECT = {"postgresql": "pipeline"}

connectors = sa.Table(
    "connectors",
    metadata,
    sa.Column("connector_id", sa.String(36), primary_key=True),
    sa.Column("source_type", sa.String(32), nullable=False),
    sa.Column("source_name", sa.String(63), nullable=False, unique=True),
    sa.Column("conn_id", sa.String(250), nullable=False),
    sa.Column("config", sa.JSON, nullable=False),
    sa.Column("schedule_cron", sa.String(120)),
    sa.Column("enabled", sa.Boolean, nullable=False, default=True),
    sa.Column("incremental", sa.Boolean, nullable=False, default=False),
    sa.Column("timestamp_column", sa.String(63)),
    sa.Column("target_table", sa.String(127)),
    # The spec's remaining settings (description, retries, queue, pool): one JSON, not a migration each.
    sa.Column("options", sa.JSON, nullable=False),
    sa.Column("created_at", TIMESTAMP, nullable=False),
    sa.Column("updated_at", TIMESTAMP, nullable=False),
)

sync_runs = sa.Table(
    "sync_runs",
    metadata,
    sa.Column("run_id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
    sa.Column("connector_id", sa.String(36), nullable=False),
    sa.Column("source_name", sa.String(63), nullable=False),
    sa.Column("stream", sa.String(255), nullable=False),
    sa.Column("dag_id", sa.String(250)),
    sa.Column("dag_run_id", sa.String(250)),
    sa.Column("try_number", sa.Integer),
    sa.Column("full_refresh", sa.Boolean, nullable=False, default=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("rows_read", sa.BigInteger, nullable=False, default=0),
    sa.Column("rows_written", sa.BigInteger, nullable=False, default=0),
    sa.Column("bytes_read", sa.BigInteger),
    # Rows marked deleted by detect_deletes; NULL when the connector does not detect deletes.
    sa.Column("rows_deleted", sa.BigInteger),
    sa.Column("watermark_before", sa.JSON),
    sa.Column("watermark_after", sa.JSON),
    sa.Column("started_at", TIMESTAMP, nullable=False),
    sa.Column("finished_at", TIMESTAMP),
    sa.Column("error", sa.Text),
    sa.Index("ix_sync_runs_connector_started", "connector_id", "started_at"),
)
