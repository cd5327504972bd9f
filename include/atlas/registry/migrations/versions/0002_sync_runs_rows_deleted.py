"""sync_runs.rows_deleted: rows marked deleted by detect_deletes

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"


def _schema() -> str | None:
    return op.get_context().config.attributes["schema"]


def upgrade() -> None:
    op.add_column("sync_runs", sa.Column("rows_deleted", sa.BigInteger), schema=_schema())


def downgrade() -> None:
    with op.batch_alter_table("sync_runs", schema=_schema()) as batch:  # SQLite cannot drop a column in place
        batch.drop_column("rows_deleted")
