"""connectors and sync_runs

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

# Microseconds on MySQL too (its DATETIME drops them by default).
TIMESTAMP = sa.DateTime(timezone=True).with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")

revision = "0001"
down_revision = None


def _schema() -> str | None:
    return op.get_context().config.attributes["schema"]


def upgrade() -> None:
    schema = _schema()
    op.create_table(
        "connectors",
        sa.Column("connector_id", sa.String(36), primary_key=True),
        sa.Column("source_type", sa.String(32), nullable=False),
        sa.Column("source_name", sa.String(63), nullable=False, unique=True),
        sa.Column("conn_id", sa.String(250), nullable=False),
        sa.Column("config", sa.JSON, nullable=False),
        sa.Column("schedule_cron", sa.String(120)),
        sa.Column("enabled", sa.Boolean, nullable=False),
        sa.Column("incremental", sa.Boolean, nullable=False),
        sa.Column("timestamp_column", sa.String(63)),
        sa.Column("target_table", sa.String(127)),
        sa.Column("options", sa.JSON, nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
        schema=schema,
    )
    op.create_table(
        "sync_runs",
        sa.Column("run_id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
        sa.Column("connector_id", sa.String(36), nullable=False),
        sa.Column("source_name", sa.String(63), nullable=False),
        sa.Column("stream", sa.String(255), nullable=False),
        sa.Column("dag_id", sa.String(250)),
        sa.Column("dag_run_id", sa.String(250)),
        sa.Column("try_number", sa.Integer),
        sa.Column("full_refresh", sa.Boolean, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("rows_read", sa.BigInteger, nullable=False),
        sa.Column("rows_written", sa.BigInteger, nullable=False),
        sa.Column("bytes_read", sa.BigInteger),
        sa.Column("watermark_before", sa.JSON),
        sa.Column("watermark_after", sa.JSON),
        sa.Column("started_at", TIMESTAMP, nullable=False),
        sa.Column("finished_at", TIMESTAMP),
        sa.Column("error", sa.Text),
        schema=schema,
    )
    op.create_index("ix_sync_runs_connector_started", "sync_runs", ["connector_id", "started_at"], schema=schema)


def downgrade() -> None:
    schema = _schema()
    op.drop_table("sync_runs", schema=schema)
    op.drop_table("connectors", schema=schema)
