"""Airflow Connections: reading them as SQLAlchemy URLs, and writing the ones made from inline credentials."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.engine import URL, make_url

from atlas.exceptions import AtlasError
from atlas.settings import use_server_secrets_backends


@dataclass(frozen=True)
class ConnectionDraft:
    """An Airflow Connection to create from a request's inline credentials."""

    conn_id: str
    conn_type: str
    host: str | None = None
    port: int | None = None
    schema: str | None = None
    login: str | None = None
    password: str | None = field(default=None, repr=False)
    extra: dict[str, Any] = field(default_factory=dict, repr=False)
    description: str | None = None


def get_connection(conn_id: str):
    """The Airflow Connection ``conn_id`` (SDK object), from whatever backend this process may use."""
    from airflow.sdk import BaseHook

    use_server_secrets_backends()
    return BaseHook.get_connection(conn_id)


def connection_exists(conn_id: str) -> bool:
    from airflow.sdk.exceptions import AirflowNotFoundException

    try:
        get_connection(conn_id)
    except AirflowNotFoundException:
        return False
    return True


def sqlalchemy_url(conn_id: str) -> URL:
    """The SQLAlchemy URL of a database connection, built by the provider's own hook."""
    conn = get_connection(conn_id)
    if conn.conn_type == "postgres":
        from airflow.providers.postgres.hooks.postgres import PostgresHook

        return PostgresHook(postgres_conn_id=conn_id).sqlalchemy_url
    if conn.conn_type == "mysql":
        from airflow.providers.mysql.hooks.mysql import MySqlHook

        return make_url(MySqlHook(mysql_conn_id=conn_id).get_uri())
    if conn.conn_type == "sqlite":
        from airflow.providers.sqlite.hooks.sqlite import SqliteHook

        return make_url(SqliteHook(sqlite_conn_id=conn_id).get_uri())
    raise AtlasError(
        f"connection {conn_id!r} has type {conn.conn_type!r}; Atlas needs a postgres, mysql or sqlite connection here"
    )


def save_connection(draft: ConnectionDraft, *, replace: bool = False) -> None:
    """Create (or with ``replace`` overwrite) an Airflow Connection in the metadata DB.

    Airflow encrypts the password and extra with its Fernet key. Runs in server processes only
    (CLI, API server), where ORM access is allowed.
    """
    import json

    from airflow.models import Connection
    from airflow.utils.session import create_session

    with create_session() as session:
        existing = session.query(Connection).filter(Connection.conn_id == draft.conn_id).one_or_none()
        if existing is not None and not replace:
            raise AtlasError(f"Airflow connection {draft.conn_id!r} already exists")
        conn = existing or Connection(conn_id=draft.conn_id)
        conn.conn_type = draft.conn_type
        conn.host, conn.port, conn.schema = draft.host, draft.port, draft.schema
        conn.login, conn.description = draft.login, draft.description
        conn.set_password(draft.password)
        conn.set_extra(json.dumps(draft.extra) if draft.extra else None)
        session.add(conn)


def delete_connection(conn_id: str) -> bool:
    from airflow.models import Connection
    from airflow.utils.session import create_session

    with create_session() as session:
        return session.query(Connection).filter(Connection.conn_id == conn_id).delete() > 0
