"""Alembic environment: always driven programmatically by :meth:`atlas.registry.ConnectorRegistry.upgrade`."""

from alembic import context

from atlas.registry.tables import metadata

connection = context.config.attributes["connection"]
schema = context.config.attributes["schema"]
context.configure(
    connection=connection,
    target_metadata=metadata,
    version_table="atlas_alembic_version",
    version_table_schema=schema,
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
