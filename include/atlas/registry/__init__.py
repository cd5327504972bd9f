"""The connector registry: the ``connectors`` and ``sync_runs`` tables and the operations on them.

Location: the Airflow connection ``atlas_metadata`` (PostgreSQL or MySQL) when it exists, else an
embedded SQLite file under ``$ATLAS_HOME``.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import URL, Engine

from atlas import settings
from atlas.exceptions import ConnectorConfigError, ConnectorNotFound, DuplicateConnector, RegistryUnavailable
from atlas.models import ConnectorSpec, parse_spec
from atlas.registry.tables import SCHEMA_BY_DIALECT, connectors, sync_runs

_MIGRATIONS = Path(__file__).parent / "migrations"
_COLUMN_FIELDS = (
    "connector_id",
    "source_type",
    "source_name",
    "conn_id",
    "config",
    "schedule_cron",
    "enabled",
    "incremental",
    "timestamp_column",
    "target_table",
)
_TIMEOUT_ARGS = {
    "postgresql": {"connect_timeout": settings.REGISTRY_CONNECT_TIMEOUT_SECONDS},
    "mysql": {"connect_timeout": settings.REGISTRY_CONNECT_TIMEOUT_SECONDS},
    "sqlite": {"timeout": settings.REGISTRY_CONNECT_TIMEOUT_SECONDS},
}


def registry_url() -> URL:
    from atlas.connections import connection_exists, sqlalchemy_url

    if connection_exists(settings.METADATA_CONN_ID):
        return sqlalchemy_url(settings.METADATA_CONN_ID)
    return URL.create("sqlite", database=str(settings.embedded_registry_path()))


def make_engine(url: URL | str) -> Engine:
    """An engine on the registry database, with a short connect timeout and the dialect's schema."""
    url = sa.make_url(url)
    engine = sa.create_engine(url, connect_args=_TIMEOUT_ARGS.get(url.get_backend_name(), {}), pool_pre_ping=True)
    schema = SCHEMA_BY_DIALECT.get(engine.dialect.name)
    return engine.execution_options(schema_translate_map={None: schema}) if schema else engine


def _alembic_config():
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(_MIGRATIONS))
    return cfg


def utcnow() -> datetime:
    return datetime.now(UTC)


def aware_utc(value: datetime | None) -> datetime | None:
    # SQLite and MySQL hand back naive datetimes; everything the registry writes is UTC.
    return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value


@dataclass(frozen=True)
class RegistryEntry:
    """One connector row: its spec when valid, else the error that names the bad fields."""

    row: dict[str, Any]
    spec: ConnectorSpec | None
    error: ConnectorConfigError | None

    @property
    def name(self) -> str:
        return str(self.row.get("source_name") or self.row.get("connector_id"))


def row_to_spec_data(row: dict[str, Any]) -> dict[str, Any]:
    """A registry row as the dict a spec is validated from (inverse of :func:`spec_to_row`)."""
    data = {k: row[k] for k in _COLUMN_FIELDS if row.get(k) is not None}
    data.update(row.get("options") or {})
    return data


def spec_to_row(spec: ConnectorSpec) -> dict[str, Any]:
    dumped = spec.to_row()
    row = {k: dumped.pop(k, None) for k in _COLUMN_FIELDS}
    row["options"] = {k: v for k, v in dumped.items() if v is not None}
    return row


class ConnectorRegistry:
    """Operations on the registry tables. Construct with :meth:`default` or an engine."""

    def __init__(self, engine: Engine):
        self.engine = engine

    @classmethod
    def default(cls) -> ConnectorRegistry:
        return cls(make_engine(registry_url()))

    @contextmanager
    def _begin(self) -> Iterator[sa.Connection]:
        try:
            with self.engine.begin() as conn:
                yield conn
        except sa.exc.OperationalError as exc:
            raise RegistryUnavailable(
                f"the connector registry at {self.engine.url.render_as_string(hide_password=True)} "
                f"is not reachable: {exc.orig}"
            ) from exc

    # ---------------------------------------------------------------------------------- schema
    def upgrade(self) -> None:
        """Create or migrate the registry tables to the newest revision (idempotent)."""
        from alembic import command  # not at import: DAG parsing never migrates

        schema = SCHEMA_BY_DIALECT.get(self.engine.dialect.name)
        with self._begin() as conn:
            if schema:
                conn.execute(sa.schema.CreateSchema(schema, if_not_exists=True))
            cfg = _alembic_config()
            cfg.attributes.update(connection=conn, schema=schema)
            command.upgrade(cfg, "head")

    def revision(self) -> str | None:
        from alembic.runtime.migration import MigrationContext

        schema = SCHEMA_BY_DIALECT.get(self.engine.dialect.name)
        with self._begin() as conn:
            ctx = MigrationContext.configure(
                conn, opts={"version_table": "atlas_alembic_version", "version_table_schema": schema}
            )
            return ctx.get_current_revision()

    @staticmethod
    def head_revision() -> str:
        from alembic.script import ScriptDirectory

        return ScriptDirectory.from_config(_alembic_config()).get_current_head()

    # ------------------------------------------------------------------------------- connectors
    def raw_rows(self) -> list[dict[str, Any]]:
        """Every connector row as stored, unvalidated, in source_name order."""
        with self._begin() as conn:
            result = conn.execute(sa.select(connectors).order_by(connectors.c.source_name))
            return [dict(r._mapping) for r in result]

    def entries(self) -> list[RegistryEntry]:
        return [entry_from_row(row) for row in self.raw_rows()]

    def _find(self, conn: sa.Connection, key: str) -> dict[str, Any]:
        row = conn.execute(
            sa.select(connectors).where(sa.or_(connectors.c.connector_id == key, connectors.c.source_name == key))
        ).first()
        if row is None:
            raise ConnectorNotFound(f"no connector with id or source_name {key!r}")
        return dict(row._mapping)

    def exists(self, key: str) -> bool:
        try:
            self.get_row(key)
        except ConnectorNotFound:
            return False
        return True

    def get_row(self, key: str) -> dict[str, Any]:
        with self._begin() as conn:
            return self._find(conn, key)

    def get(self, key: str) -> ConnectorSpec:
        """The valid spec of connector ``key`` (its id or source_name)."""
        return parse_spec(row_to_spec_data(self.get_row(key)))

    def add(self, spec: ConnectorSpec) -> ConnectorSpec:
        spec = spec.model_copy(update={"connector_id": spec.connector_id or str(uuid.uuid4())})
        now = utcnow()
        try:
            with self._begin() as conn:
                conn.execute(connectors.insert().values(**spec_to_row(spec), created_at=now, updated_at=now))
        except sa.exc.IntegrityError:
            raise DuplicateConnector(f"a connector named {spec.source_name!r} already exists") from None
        return spec

    def update(self, key: str, spec: ConnectorSpec) -> ConnectorSpec:
        """Replace connector ``key``'s definition; its id stays."""
        try:
            with self._begin() as conn:
                current = self._find(conn, key)
                spec = spec.model_copy(update={"connector_id": current["connector_id"]})
                conn.execute(
                    connectors.update()
                    .where(connectors.c.connector_id == current["connector_id"])
                    .values(**spec_to_row(spec), updated_at=utcnow())
                )
        except sa.exc.IntegrityError:
            raise DuplicateConnector(f"a connector named {spec.source_name!r} already exists") from None
        return spec

    def remove(self, key: str) -> dict[str, Any]:
        """Delete connector ``key``; return the removed row. Its run history stays."""
        with self._begin() as conn:
            row = self._find(conn, key)
            conn.execute(connectors.delete().where(connectors.c.connector_id == row["connector_id"]))
            return row

    # --------------------------------------------------------------------------------- sync runs
    def start_run(self, spec: ConnectorSpec, stream: str, **fields: Any) -> int:
        """Record a run as started. An earlier try of the same DAG run still marked running has died
        without recording its end (Airflow retries only after a try ended): it is marked failed."""
        connector_id = spec.connector_id or spec.source_name
        now = utcnow()
        with self._begin() as conn:
            if fields.get("dag_run_id"):
                conn.execute(
                    sync_runs.update()
                    .where(
                        sync_runs.c.connector_id == connector_id,
                        sync_runs.c.stream == stream,
                        sync_runs.c.dag_run_id == fields["dag_run_id"],
                        sync_runs.c.status == "running",
                    )
                    .values(
                        status="failed",
                        finished_at=now,
                        error="abandoned: the process running this try ended without recording a result "
                        "(killed or lost); Airflow retried it",
                    )
                )
            result = conn.execute(
                sync_runs.insert().values(
                    connector_id=connector_id,
                    source_name=spec.source_name,
                    stream=stream,
                    status="running",
                    rows_read=0,
                    rows_written=0,
                    started_at=now,
                    **fields,
                )
            )
            return int(result.inserted_primary_key[0])

    def finish_run(self, run_id: int, status: str, **fields: Any) -> None:
        with self._begin() as conn:
            conn.execute(
                sync_runs.update()
                .where(sync_runs.c.run_id == run_id)
                .values(status=status, finished_at=utcnow(), **fields)
            )

    def history(self, key: str, *, limit: int = 50, offset: int = 0) -> tuple[list[dict[str, Any]], int]:
        """Runs of connector ``key``, newest first, and their total count."""
        with self._begin() as conn:
            connector_id = self._find(conn, key)["connector_id"]
            where = sync_runs.c.connector_id == connector_id
            total = conn.execute(sa.select(sa.func.count()).select_from(sync_runs).where(where)).scalar_one()
            rows = conn.execute(
                sa.select(sync_runs)
                .where(where)
                .order_by(sync_runs.c.started_at.desc(), sync_runs.c.run_id.desc())
                .limit(limit)
                .offset(offset)
            )
            return [_run_dict(r._mapping) for r in rows], int(total)

    def recent_runs(
        self, limit: int = 20, connector_ids: Collection[str] | None = None
    ) -> dict[str, list[dict[str, Any]]]:
        """The newest ``limit`` runs of every connector, oldest first, by connector_id, in one query.

        A run is one DAG run: its streams' rows summed, ``running`` while a stream runs, else ``failed``
        if a stream failed, else ``success``. A stream retried within the DAG run counts with its last
        try only. A sync without a DAG run (``atlas sync``) is a run of its own. ``connector_ids``
        limits the answer (and the scan) to those connectors.
        """
        scope = sync_runs.c.connector_id.in_(connector_ids) if connector_ids is not None else sa.true()
        solo = sa.case((sync_runs.c.dag_run_id.is_(None), sync_runs.c.run_id))
        attempts = (
            sa.select(
                sync_runs,
                sa.func.row_number()
                .over(
                    partition_by=(sync_runs.c.connector_id, sync_runs.c.dag_run_id, solo, sync_runs.c.stream),
                    order_by=sync_runs.c.run_id.desc(),
                )
                .label("newer_tries"),
            )
            .where(scope)
            .subquery()
        )
        last_tries = sa.select(attempts).where(attempts.c.newer_tries == 1).subquery()

        def streams_in(status: str) -> sa.ColumnElement[int]:
            return sa.func.sum(sa.case((last_tries.c.status == status, 1), else_=0))

        started = sa.func.min(last_tries.c.started_at)
        per_run = (
            sa.select(
                last_tries.c.connector_id,
                last_tries.c.dag_run_id,
                started.label("started_at"),
                sa.func.max(last_tries.c.finished_at).label("finished_at"),
                sa.func.sum(last_tries.c.rows_written).label("rows_written"),
                sa.func.count().label("streams"),
                streams_in("running").label("running"),
                streams_in("failed").label("failed"),
                sa.func.row_number()
                .over(partition_by=last_tries.c.connector_id, order_by=started.desc())
                .label("recency"),
            )
            .group_by(
                last_tries.c.connector_id,
                last_tries.c.dag_run_id,
                sa.case((last_tries.c.dag_run_id.is_(None), last_tries.c.run_id)),
            )
            .subquery()
        )
        query = (
            sa.select(per_run).where(per_run.c.recency <= limit).order_by(per_run.c.connector_id, per_run.c.started_at)
        )
        out: dict[str, list[dict[str, Any]]] = {}
        with self._begin() as conn:
            for row in conn.execute(query):
                out.setdefault(row.connector_id, []).append(_aggregated_run(row))
        return out

    def last_runs(self) -> dict[str, dict[str, Any]]:
        """The newest run of every connector, by connector_id."""
        newest = (
            sa.select(sync_runs.c.connector_id, sa.func.max(sync_runs.c.run_id).label("run_id"))
            .group_by(sync_runs.c.connector_id)
            .subquery()
        )
        with self._begin() as conn:
            rows = conn.execute(sa.select(sync_runs).join(newest, sync_runs.c.run_id == newest.c.run_id))
            return {r.connector_id: _run_dict(r._mapping) for r in rows}

    def stream_successes(
        self, connector_ids: Collection[str] | None = None
    ) -> dict[str, dict[str, StreamSuccess | None]]:
        """Each connector's current streams, each with its newest successful run (None: never succeeded).

        A connector's current streams are those of its newest DAG run, so a table dropped from the
        connector stops counting; a connector only ever synced from the CLI counts all its streams.
        ``connector_ids`` limits the answer (and the scan) to those connectors.
        """
        scope = sync_runs.c.connector_id.in_(connector_ids) if connector_ids is not None else sa.true()
        newest_success = (
            sa.select(sa.func.max(sync_runs.c.run_id).label("run_id"))
            .where(scope, sync_runs.c.status == "success")
            .group_by(sync_runs.c.connector_id, sync_runs.c.stream)
            .subquery()
        )
        newest_dag_run = (
            sa.select(sync_runs.c.connector_id, sa.func.max(sync_runs.c.run_id).label("run_id"))
            .where(scope, sync_runs.c.dag_run_id.is_not(None))
            .group_by(sync_runs.c.connector_id)
            .subquery()
        )
        newest_dag_run_id = (
            sa.select(sync_runs.c.connector_id, sync_runs.c.dag_run_id)
            .join(newest_dag_run, sync_runs.c.run_id == newest_dag_run.c.run_id)
            .subquery()
        )
        with self._begin() as conn:
            successes = conn.execute(
                sa.select(
                    sync_runs.c.connector_id, sync_runs.c.stream, sync_runs.c.finished_at, sync_runs.c.watermark_after
                ).join(newest_success, sync_runs.c.run_id == newest_success.c.run_id)
            ).all()
            current = conn.execute(
                sa.select(sync_runs.c.connector_id, sync_runs.c.stream)
                .distinct()
                .join(
                    newest_dag_run_id,
                    sa.and_(
                        sync_runs.c.connector_id == newest_dag_run_id.c.connector_id,
                        sync_runs.c.dag_run_id == newest_dag_run_id.c.dag_run_id,
                    ),
                )
            ).all()
        out: dict[str, dict[str, StreamSuccess | None]] = {}
        for connector_id, stream in current:
            out.setdefault(connector_id, {})[stream] = None
        run_by_dag = set(out)
        for connector_id, stream, finished_at, watermark in successes:
            streams = out.setdefault(connector_id, {})
            if stream in streams or connector_id not in run_by_dag:
                streams[stream] = StreamSuccess(aware_utc(finished_at), watermark)
        return out


@dataclass(frozen=True)
class StreamSuccess:
    """A stream's newest successful sync: when it finished and the watermark it reached."""

    finished_at: datetime
    watermark: dict[str, Any] | None


def _run_dict(mapping: Any) -> dict[str, Any]:
    run = dict(mapping)
    for key in ("started_at", "finished_at"):
        run[key] = aware_utc(run[key])
    return run


def _aggregated_run(row: Any) -> dict[str, Any]:
    state = "running" if row.running else "failed" if row.failed else "success"
    started = aware_utc(row.started_at)
    finished = aware_utc(row.finished_at) if state != "running" else None
    return {
        "dag_run_id": row.dag_run_id,
        "state": state,
        "started_at": started,
        "finished_at": finished,
        "duration_seconds": (finished - started).total_seconds() if finished else None,
        "rows_written": int(row.rows_written or 0),
        "streams": int(row.streams),
    }


def entry_from_row(row: dict[str, Any]) -> RegistryEntry:
    try:
        return RegistryEntry(row, parse_spec(row_to_spec_data(row)), None)
    except ConnectorConfigError as exc:
        return RegistryEntry(row, None, exc)
