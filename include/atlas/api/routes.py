"""The ``/connectors`` endpoints. Each is a thin adapter over :mod:`atlas.service` and the registry.

``{connector}`` in a path is the connector's id or its source_name. Every endpoint requires Airflow's
authentication; see :mod:`atlas.api.deps` for the permission each one checks.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from airflow.api_fastapi.app import get_auth_manager
from airflow.api_fastapi.common.db.common import SessionDep
from airflow.api_fastapi.core_api.security import GetUserDep
from fastapi import APIRouter, Body, Depends, HTTPException, Query, status
from sqlalchemy.orm import Session

from atlas import service
from atlas.api import runs
from atlas.api.deps import (
    EditConnector,
    ReadConnector,
    RegistryDep,
    RunConnector,
    authorize_connection,
    authorize_dag,
    dag_id_of,
    requires_dags,
)
from atlas.api.schemas import (
    ConnectionInfo,
    ConnectorDetail,
    ConnectorSummary,
    ConnectorType,
    DeleteResult,
    DiscoveredSchema,
    FieldError,
    History,
    HistoryItem,
    LastRun,
    RecentRun,
    SyncRequest,
    SyncStarted,
    TestResult,
)
from atlas.freshness import assess_entries
from atlas.models import SOURCE_TYPES, spec_json_schema
from atlas.registry import RegistryEntry, entry_from_row

router = APIRouter(prefix="/connectors", tags=["connectors"])

_TYPE_DESCRIPTIONS = {
    "postgresql": "PostgreSQL table(s), schema or query; incremental on a timestamp or integer cursor.",
    "mysql": "MySQL/MariaDB table(s), schema or query; incremental on a timestamp or auto-increment cursor.",
    "sqlite": "SQLite database file table(s) or query (demos and tests).",
    "rest_api": "HTTP JSON API endpoint with auth, pagination and rate limiting.",
}

_BODY_DOC = (
    "The seed's body (inline `host`/`port`/`database`/`username`/`password`, or `base_url`/`auth_type`/"
    "`auth_token`/`additional_params` inside `config`; top-level `table` or `query`) or the extended "
    "format (`conn_id` plus the settings of `GET /connectors/types`). Inline credentials are stored in an "
    "Airflow Connection `atlas_<source_name>`, never in the connector row."
)
ConnectorBody = Annotated[dict[str, Any], Body(description=_BODY_DOC)]


# ----------------------------------------------------------------------------------- helpers
def _field_errors(entry: RegistryEntry) -> list[FieldError]:
    if entry.error is None:
        return []
    return [FieldError(loc=path.split(".") if path else [], msg=msg) for path, msg in entry.error.errors]


def _timestamp(value: datetime | None) -> float:
    """Sort key of a run's start; a run not started yet sorts as the newest."""
    return value.timestamp() if value is not None else float("inf")


def _last_run(sync_run: dict[str, Any] | None, dag_run: Any | None) -> LastRun | None:
    """The newer of the registry's last sync run and Airflow's last DAG run."""
    dag_item = runs.dag_run_item(dag_run) if dag_run is not None else None
    if sync_run is not None and (
        dag_item is None
        or sync_run.get("dag_run_id") == dag_item["dag_run_id"]
        or _timestamp(dag_item["started_at"]) <= _timestamp(sync_run["started_at"])
    ):
        return LastRun(
            state=sync_run["status"],
            at=sync_run["started_at"],
            dag_run_id=sync_run.get("dag_run_id"),
            error=sync_run.get("error"),
        )
    if dag_item is not None:
        return LastRun(
            state=dag_item["state"],
            at=dag_item["started_at"],
            dag_run_id=dag_item["dag_run_id"],
            error=dag_item["error"],
        )
    return None


#: How many recent runs a connector's summary carries by default (the Connectors page's sparkline).
RECENT_RUNS = 20


def _summaries(
    registry: RegistryDep, session: Session, entries: list[RegistryEntry], recent: int = RECENT_RUNS
) -> list[dict[str, Any]]:
    dag_ids = [dag_id_of(e) for e in entries]
    states = runs.dag_states(session, dag_ids)
    dag_runs = runs.latest_dag_runs(session, dag_ids)
    last_sync = registry.last_runs()
    ids = [e.row["connector_id"] for e in entries]
    only = ids if len(ids) == 1 else None  # one connector (its detail): read only its runs
    freshness = assess_entries(registry, entries, only)
    recent_runs = registry.recent_runs(recent, only) if recent else {}
    out = []
    for entry, dag_id in zip(entries, dag_ids, strict=True):
        row, state = entry.row, states.get(dag_id)
        fresh = freshness.get(row["connector_id"])
        out.append(
            {
                "connector_id": row["connector_id"],
                "source_name": row["source_name"],
                "source_type": row.get("source_type"),
                "dag_id": dag_id,
                "valid": entry.spec is not None,
                "errors": _field_errors(entry),
                "enabled": row.get("enabled"),
                "schedule_cron": row.get("schedule_cron"),
                "incremental": row.get("incremental"),
                "dag_parsed": state is not None,
                "dag_paused": state.paused if state else None,
                "last_run": _last_run(last_sync.get(row["connector_id"]), dag_runs.get(dag_id)),
                "last_success_at": fresh.last_success_at if fresh else None,
                "freshness_lag_seconds": fresh.lag_seconds if fresh else None,
                "max_staleness_minutes": fresh.max_staleness_minutes if fresh else None,
                "stale": fresh.stale if fresh else False,
                "recent_runs": [RecentRun(**r) for r in recent_runs.get(row["connector_id"], [])],
            }
        )
    return out


def _detail(registry: RegistryDep, session: Session, entry: RegistryEntry) -> ConnectorDetail:
    (summary,) = _summaries(registry, session, [entry])
    row = entry.row
    definition = {k: v for k, v in row.items() if k not in ("created_at", "updated_at")}
    return ConnectorDetail(
        **summary,
        connector=definition,
        connection=ConnectionInfo(**service.connection_summary(row["conn_id"])) if row.get("conn_id") else None,
        created_at=row.get("created_at"),
        updated_at=row.get("updated_at"),
    )


def _valid_spec(entry: RegistryEntry):
    if entry.spec is None:
        raise entry.error
    return entry.spec


# --------------------------------------------------------------------------------- endpoints
@router.get(
    "/types",
    response_model=list[ConnectorType],
    summary="Source types and the JSON Schema of their connector definition",
    dependencies=[Depends(requires_dags("read"))],
)
def list_types() -> list[ConnectorType]:
    return [
        ConnectorType(source_type=t, description=_TYPE_DESCRIPTIONS[t], config_schema=spec_json_schema(t))
        for t in SOURCE_TYPES
    ]


@router.post(
    "/",
    response_model=ConnectorDetail,
    status_code=status.HTTP_201_CREATED,
    summary="Create a connector (its DAG appears after the next parse)",
    responses={409: {"description": "A connector with that source_name exists"}, 422: {"description": "Invalid"}},
)
def create_connector(
    body: ConnectorBody,
    registry: RegistryDep,
    session: SessionDep,
    user: Annotated[Any, Depends(requires_dags("edit"))],
) -> ConnectorDetail:
    intake = service.plan_create(registry, body)  # validates, nothing written: 422 names the fields, 409
    authorize_dag(user, "edit", intake.spec.dag_id)
    if intake.connection is not None:
        authorize_connection(user, "POST", intake.connection.conn_id)
    spec = service.apply_create(registry, intake)
    return _detail(registry, session, entry_from_row(registry.get_row(spec.connector_id)))


@router.get(
    "/",
    response_model=list[ConnectorSummary],
    summary="All connectors whose DAG the caller may read, with their state; invalid rows included",
)
def list_connectors(
    user: GetUserDep,
    registry: RegistryDep,
    session: SessionDep,
    recent_runs: Annotated[
        int, Query(ge=0, le=100, description="How many of each connector's newest runs `recent_runs` lists.")
    ] = RECENT_RUNS,
) -> list[dict[str, Any]]:
    # Like GET /api/v2/dags: filtered to what the auth manager lets this user read, never a 403.
    entries = registry.entries()
    readable = get_auth_manager().filter_authorized_dag_ids(
        dag_ids={dag_id_of(e) for e in entries}, user=user, method="GET"
    )
    return _summaries(registry, session, [e for e in entries if dag_id_of(e) in readable], recent_runs)


@router.get("/{connector}", response_model=ConnectorDetail, summary="A connector's definition and state")
def get_connector(access: ReadConnector, registry: RegistryDep, session: SessionDep) -> ConnectorDetail:
    return _detail(registry, session, access.entry)


@router.put(
    "/{connector}",
    response_model=ConnectorDetail,
    summary="Update a connector (partial or full); its DAG follows on the next parse",
)
def update_connector(
    access: EditConnector, body: ConnectorBody, registry: RegistryDep, session: SessionDep
) -> ConnectorDetail:
    # The stored row may be invalid: an update is how it is repaired.
    intake = service.plan_update(registry, access.connector_id, body)
    if intake.spec.dag_id != dag_id_of(access.entry):
        authorize_dag(access.user, "edit", intake.spec.dag_id)
    if intake.connection is not None:
        authorize_connection(access.user, "PUT", intake.connection.conn_id)
    spec = service.apply_update(registry, access.connector_id, intake)
    return _detail(registry, session, entry_from_row(registry.get_row(spec.connector_id)))


@router.delete("/{connector}", response_model=DeleteResult, summary="Remove a connector")
def delete_connector(
    access: EditConnector,
    registry: RegistryDep,
    purge: Annotated[
        bool, Query(description="Also delete its Atlas-made Airflow Connection and its watermarks.")
    ] = False,
) -> dict[str, Any]:
    if purge:
        authorize_connection(access.user, "DELETE", access.row["conn_id"])
    return service.delete_connector(registry, access.connector_id, purge=purge)


@router.post("/{connector}/test", response_model=TestResult, summary="Test the connection to the source")
def test_connector(access: EditConnector) -> TestResult:
    ok, message = service.check_connector(_valid_spec(access.entry))
    return TestResult(ok=ok, message=message)


@router.post(
    "/{connector}/sync",
    response_model=SyncStarted,
    summary="Trigger a run of the connector's DAG",
    responses={409: {"description": "The DAG is not parsed yet (or broken)"}},
)
def sync_connector(
    access: RunConnector,
    session: SessionDep,
    body: Annotated[SyncRequest | None, Body()] = None,
) -> SyncStarted:
    _valid_spec(access.entry)  # an invalid connector's placeholder DAG would only fail
    request = body or SyncRequest()
    conf = request.model_dump()
    try:
        run = runs.trigger_sync(access.dag_id, conf=conf, user_name=access.user.get_name(), session=session)
    except runs.DagNotReady as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from None
    except ValueError as exc:  # Airflow's ParamValidationError is a ValueError: a bad `since`
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_ENTITY, str(exc)) from None
    paused = runs.dag_states(session, [access.dag_id])[access.dag_id].paused
    message = (
        f"run queued; DAG {access.dag_id} is paused, so it starts once the DAG is unpaused" if paused else "run queued"
    )
    return SyncStarted(
        connector_id=access.connector_id,
        dag_id=access.dag_id,
        dag_run_id=run.run_id,
        state=runs.state_name(run.state),
        conf=conf,
        dag_paused=paused,
        message=message,
    )


@router.get("/{connector}/history", response_model=History, summary="Runs, newest first (paginated)")
def connector_history(
    access: ReadConnector,
    registry: RegistryDep,
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> History:
    window = offset + limit
    recorded, recorded_total = registry.history(access.connector_id, limit=window, offset=0)
    pending = runs.dag_runs_without_sync_row(
        session, access.dag_id, runs.recorded_dag_run_ids(registry, access.connector_id)
    )
    items = [_sync_item(r) for r in recorded] + pending[:window]
    items.sort(key=lambda i: _timestamp(i["started_at"]), reverse=True)
    return History(
        connector_id=access.connector_id,
        total=recorded_total + len(pending),
        limit=limit,
        offset=offset,
        runs=[HistoryItem(**i) for i in items[offset:window]],
    )


def _sync_item(run: dict[str, Any]) -> dict[str, Any]:
    started, finished = run["started_at"], run.get("finished_at")
    return {
        "origin": "sync_run",
        "sync_run_id": run["run_id"],
        "dag_run_id": run.get("dag_run_id"),
        "stream": run["stream"],
        "state": run["status"],
        "full_refresh": run.get("full_refresh"),
        "rows_read": run.get("rows_read"),
        "rows_written": run.get("rows_written"),
        "rows_deleted": run.get("rows_deleted"),
        "watermark_before": run.get("watermark_before"),
        "watermark_after": run.get("watermark_after"),
        "started_at": started,
        "finished_at": finished,
        "duration_seconds": (finished - started).total_seconds() if finished and started else None,
        "error": run.get("error"),
        "try_number": run.get("try_number"),
    }


@router.get(
    "/{connector}/schema", response_model=DiscoveredSchema, summary="The source's columns, types and primary key"
)
def connector_schema(access: ReadConnector) -> DiscoveredSchema:
    streams = service.discover_connector(_valid_spec(access.entry))
    return DiscoveredSchema(connector_id=access.connector_id, streams=[s.to_dict() for s in streams])
