"""What the API needs from Airflow's metadata DB: DAG state, DAG runs, and triggering a run.

These run in the API-server process, which may use the ORM. Triggering goes through
:func:`airflow.api.common.trigger_dag.trigger_dag` — the code path of ``airflow dags trigger`` — so a
run started here is an ordinary manual DAG run, indistinguishable from one started by the CLI or by
``POST /api/v2/dags/{dag_id}/dagRuns``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from airflow.models.dag import DagModel
from airflow.models.dagrun import DagRun
from sqlalchemy.orm import Session

from atlas.registry import ConnectorRegistry
from atlas.registry.tables import sync_runs


class DagNotReady(Exception):
    """The connector's DAG cannot be triggered yet (not parsed, removed, or broken)."""


@dataclass(frozen=True)
class DagState:
    paused: bool
    has_import_errors: bool


def dag_states(session: Session, dag_ids: Iterable[str]) -> dict[str, DagState]:
    """The current (non-stale) DAGs among ``dag_ids``: parsed ones only."""
    rows = session.execute(
        sa.select(DagModel.dag_id, DagModel.is_paused, DagModel.has_import_errors).where(
            DagModel.dag_id.in_(list(dag_ids)), ~DagModel.is_stale
        )
    )
    return {r.dag_id: DagState(bool(r.is_paused), bool(r.has_import_errors)) for r in rows}


def _run_time(run: Any) -> datetime | None:
    return run.start_date or run.queued_at or run.run_after


def latest_dag_runs(session: Session, dag_ids: Iterable[str]) -> dict[str, DagRun]:
    """The most recently created DAG run of each of ``dag_ids``, in one query."""
    newest = (
        sa.select(DagRun.dag_id, sa.func.max(DagRun.id).label("id"))
        .where(DagRun.dag_id.in_(list(dag_ids)))
        .group_by(DagRun.dag_id)
        .subquery()
    )
    runs = session.scalars(sa.select(DagRun).join(newest, DagRun.id == newest.c.id))
    return {run.dag_id: run for run in runs}


def recorded_dag_run_ids(registry: ConnectorRegistry, connector_id: str) -> set[str]:
    """DAG runs of a connector that have at least one ``sync_runs`` row."""
    with registry.engine.connect() as conn:
        rows = conn.execute(
            sa.select(sync_runs.c.dag_run_id)
            .where(sync_runs.c.connector_id == connector_id, sync_runs.c.dag_run_id.is_not(None))
            .distinct()
        )
        return {r.dag_run_id for r in rows}


def dag_runs_without_sync_row(session: Session, dag_id: str, recorded: set[str]) -> list[dict[str, Any]]:
    """The DAG's runs that no ``sync_runs`` row covers yet (queued, or failed before the task ran), newest first.

    Filtered in Python: the recorded set lives in another database (the registry).
    """
    rows = session.execute(
        sa.select(
            DagRun.run_id,
            DagRun.state,
            DagRun.conf,
            DagRun.run_after,
            DagRun.queued_at,
            DagRun.start_date,
            DagRun.end_date,
        ).where(DagRun.dag_id == dag_id)
    )
    runs = [r for r in rows if r.run_id not in recorded]
    runs.sort(key=lambda r: _run_time(r), reverse=True)
    return [dag_run_item(r) for r in runs]


def state_name(state: Any) -> str:
    """A DAG run state as its plain name (``queued``), whether the ORM gave an enum or a string."""
    return str(getattr(state, "value", state))


def dag_run_item(run: Any) -> dict[str, Any]:
    """A DAG run as a history item (see :class:`atlas.api.schemas.HistoryItem`)."""
    started = run.start_date or run.queued_at
    state = state_name(run.state)
    return {
        "origin": "dag_run",
        "dag_run_id": run.run_id,
        "state": state,
        "full_refresh": bool((run.conf or {}).get("full_refresh")),
        "started_at": started,
        "finished_at": run.end_date,
        "duration_seconds": (run.end_date - run.start_date).total_seconds()
        if run.end_date and run.start_date
        else None,
        "error": "the DAG run failed before its sync task recorded a run; see the task logs in Airflow"
        if state == "failed"
        else None,
    }


def trigger_sync(dag_id: str, *, conf: dict[str, Any], user_name: str, session: Session) -> DagRun:
    """Queue a manual run of ``dag_id`` with ``conf``, as ``airflow dags trigger`` would."""
    from airflow.api.common.trigger_dag import trigger_dag
    from airflow.utils.types import DagRunTriggeredByType

    dag = session.scalar(sa.select(DagModel).where(DagModel.dag_id == dag_id))
    if dag is None or dag.is_stale:
        raise DagNotReady(
            f"DAG {dag_id!r} is not parsed yet: Airflow's dag-processor picks a new or renamed connector up "
            "on its next parse of dags/atlas_connectors.py; retry in a few seconds"
        )
    if dag.has_import_errors:
        raise DagNotReady(f"DAG {dag_id!r} has import errors; see the DAG's import errors in the Airflow UI")
    run = trigger_dag(
        dag_id,
        triggered_by=DagRunTriggeredByType.REST_API,
        triggering_user_name=user_name,
        conf=conf,
        session=session,
    )
    if run is None:  # trigger_dag returns None only when nothing was created
        raise DagNotReady(f"Airflow created no run for DAG {dag_id!r}")
    return run
