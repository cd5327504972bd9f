"""Connector rows -> Airflow DAGs, one per row.

Every DAG has two tasks: ``plan_streams`` resolves what to sync now (tables of a schema can change),
and ``sync_stream`` is mapped over the streams, each with its own watermark. A row that fails
validation still gets a DAG of its own name, whose doc and single task state the error: one bad row
never hides the others, and its error is visible in the UI.

Parsing reads the registry once. If the registry is unreachable, the last rows read successfully
(kept in ``$ATLAS_HOME/registry-snapshot.json``) are used, so DAGs never vanish during an outage.
"""

from __future__ import annotations

import json
import logging
import re
from datetime import datetime, timedelta
from typing import Any

from airflow.sdk import DAG, AssetAlias, Param, get_parsing_context, task

from atlas import settings
from atlas.models import SOURCE_NAME_PATTERN, ConnectorSpec
from atlas.registry import ConnectorRegistry, RegistryEntry, entry_from_row

log = logging.getLogger(__name__)

#: Fixed, in the past: with catchup off, the first scheduled run is the next cron tick.
START_DATE = datetime(2026, 1, 1)
MAX_RETRY_DELAY = timedelta(hours=1)


# ------------------------------------------------------------------------------------ registry
def read_registry() -> tuple[list[dict[str, Any]], str | None]:
    """All connector rows, and a warning when they come from the snapshot because the registry is down."""
    snapshot = settings.registry_snapshot_path()
    try:
        rows = ConnectorRegistry.default().raw_rows()
    except Exception as exc:  # any failure to read must keep the last known DAGs alive
        if not snapshot.exists():
            raise
        saved = json.loads(snapshot.read_text())
        warning = (
            f"connector registry unreachable ({type(exc).__name__}: {exc}); "
            f"using the last known rows from {saved['saved_at']}"
        )
        log.warning(warning)
        return saved["rows"], warning
    payload = {"saved_at": datetime.now().astimezone().isoformat(), "rows": rows}
    tmp = snapshot.with_suffix(".tmp")
    tmp.write_text(json.dumps(payload, default=str))
    tmp.replace(snapshot)  # atomic: a parse never reads a half-written snapshot
    return rows, None


# ----------------------------------------------------------------------------------------- docs
def render_doc(spec: ConnectorSpec, warning: str | None = None) -> str:
    """The DAG's doc: the connector's settings (secret-free by construction) and how to run it."""
    settings_json = json.dumps(spec.to_row(), indent=2, sort_keys=True)
    schedule = f"`{spec.schedule_cron}`" if spec.schedule_cron else "none (manual runs only)"
    if not spec.enabled:
        schedule += " — connector disabled: no scheduled runs, manual runs still work"
    mode = f"incremental on `{spec.timestamp_column}`" if spec.incremental else "full refresh every run"
    lines = [
        f"# Atlas connector `{spec.source_name}` ({spec.source_type})",
        spec.description or "",
        f"* **Schedule:** {schedule}",
        f"* **Credentials:** Airflow connection `{spec.conn_id}`",
        f"* **Mode:** {mode}",
        f"* **Freshness limit:** {spec.max_staleness_minutes} min (checked by `{settings.FRESHNESS_DAG_ID}`)"
        if spec.max_staleness_minutes
        else "",
        "* **Loads:** merge by primary key; a stream without a primary key is appended to, so re-read rows "
        "(retries, lookback) can appear twice there.",
        "* **Run with options:** trigger with `full_refresh: true` to rebuild the target and reset the "
        "watermark, or `since` to re-sync from a cursor value.",
        f"\n```json\n{settings_json}\n```",
    ]
    if warning:
        lines.insert(1, f"> **Warning:** {warning}")
    return "\n".join(line for line in lines if line)


# -------------------------------------------------------------------------------------- builders
def trigger_params() -> dict[str, Param]:
    """The run options of every connector DAG; title and description label them in the trigger form."""
    return {
        "full_refresh": Param(
            False,
            type="boolean",
            title="Full refresh",
            description="Rebuild the target tables from a full read and reset the watermarks.",
        ),
        "since": Param(
            None,
            type=["null", "string"],
            title="Since",
            description="Re-sync from this cursor value for this run only: an ISO timestamp "
            "(2026-01-31T00:00:00Z) or an integer. Empty: from the stored watermark.",
        ),
    }


def _run_info(context: dict[str, Any]):
    from atlas.sync import RunInfo

    ti = context["ti"]
    return RunInfo(dag_id=ti.dag_id, dag_run_id=context["dag_run"].run_id, try_number=ti.try_number)


def build_connector_dag(spec: ConnectorSpec, warning: str | None = None) -> DAG:
    """The DAG of one valid connector. The cron string is passed to Airflow as it is."""
    alias = AssetAlias(spec.dag_id)
    default_args: dict[str, Any] = {
        "owner": "atlas",
        "retries": spec.retries,
        "retry_delay": timedelta(seconds=spec.retry_delay_seconds),
        "retry_exponential_backoff": True,
        "max_retry_delay": MAX_RETRY_DELAY,
    }
    default_args.update({k: v for k, v in (("queue", spec.queue), ("pool", spec.pool)) if v})
    with DAG(
        dag_id=spec.dag_id,
        schedule=spec.schedule_cron if spec.enabled else None,
        start_date=START_DATE,
        catchup=False,
        max_active_runs=1,
        # The row's `enabled` says whether it runs on schedule; a paused DAG would also queue manual runs.
        is_paused_upon_creation=False,
        tags=["atlas", f"source:{spec.source_type}"],
        doc_md=render_doc(spec, warning),
        default_args=default_args,
        params=trigger_params(),
    ) as dag:

        @task(task_id="plan_streams")
        def plan_streams() -> list[str]:
            from atlas.sources import build_source

            streams = build_source(spec).streams()
            log.info("%s: %d stream(s) to sync: %s", spec.source_name, len(streams), ", ".join(streams))
            return streams

        @task(task_id="sync_stream", outlets=[alias], map_index_template="{{ task.op_kwargs['stream'] }}")
        def sync_stream(stream: str, **context: Any) -> dict[str, Any]:
            from airflow.sdk import Asset

            from atlas.sync import sync_stream as run_sync

            params = context["params"]
            summary = run_sync(
                spec,
                stream,
                full_refresh=bool(params.get("full_refresh")),
                since=params.get("since") or None,
                run=_run_info(context),
            )
            context["outlet_events"][alias].add(Asset(summary.asset_uri, group="atlas"))
            return summary.to_dict()

        sync_stream.expand(stream=plan_streams())
    return dag


def invalid_dag_id(row: dict[str, Any]) -> str:
    name = str(row.get("source_name") or "")
    if re.match(SOURCE_NAME_PATTERN, name):
        return f"{settings.DAG_ID_PREFIX}{name}"
    # An unusable name is slugged; the id keeps two such rows apart.
    slug = re.sub(r"[^a-z0-9_]+", "_", name.lower()).strip("_")[:40] or "unnamed"
    return f"{settings.DAG_ID_PREFIX}invalid__{slug}__{str(row.get('connector_id'))[:8]}"


def build_error_dag(dag_id: str, title: str, message: str, source_type: str | None = None) -> DAG:
    """A placeholder that keeps an invalid connector visible: its doc and its only task state the error."""
    tags = ["atlas", "atlas:invalid"] + ([f"source:{source_type}"] if source_type else [])
    with DAG(
        dag_id=dag_id,
        schedule=None,
        start_date=START_DATE,
        catchup=False,
        max_active_runs=1,
        tags=tags,
        doc_md=f"# {title}\n\n> **This connector is not valid and cannot run.**\n\n```\n{message}\n```\n\n"
        "Fix the row (`atlas connectors update`, or PUT /atlas/connectors/{id}); the DAG follows on the next parse.",
        default_args={"owner": "atlas", "retries": 0},
    ) as dag:

        @task(task_id="connector_invalid")
        def connector_invalid() -> None:
            from atlas.exceptions import AtlasError

            raise AtlasError(message)

        connector_invalid()
    return dag


def build_freshness_dag(watched: list[str]) -> DAG:
    """The DAG that fails, naming them, while connectors are older than their ``max_staleness_minutes``."""
    with DAG(
        dag_id=settings.FRESHNESS_DAG_ID,
        schedule=settings.freshness_check_cron(),
        start_date=START_DATE,
        catchup=False,
        max_active_runs=1,
        is_paused_upon_creation=False,
        tags=["atlas", "atlas:freshness"],
        doc_md="# Atlas freshness monitor\n\nFails, and logs each one, while a connector's data is older than "
        "its `max_staleness_minutes` (see the Connectors page or `GET /atlas/connectors/`).\n\n"
        f"Watching: {', '.join(f'`{name}`' for name in watched)}",
        default_args={"owner": "atlas", "retries": 0},
    ) as dag:

        @task(task_id="check_freshness")
        def check_freshness() -> dict[str, Any]:
            from atlas.exceptions import AtlasError
            from atlas.freshness import check_freshness as check

            problems = check(ConnectorRegistry.default())
            if problems:
                raise AtlasError(f"{len(problems)} connector(s) stale: " + "; ".join(problems))
            return {"stale": 0}

        check_freshness()
    return dag


def build_dag(entry: RegistryEntry, warning: str | None = None) -> DAG:
    if entry.spec is not None:
        return build_connector_dag(entry.spec, warning)
    source_type = entry.row.get("source_type")
    return build_error_dag(
        invalid_dag_id(entry.row),
        f"Invalid Atlas connector `{entry.name}`",
        str(entry.error),
        source_type if isinstance(source_type, str) and re.fullmatch(r"[a-z_]{1,32}", source_type) else None,
    )


def build_all_dags() -> dict[str, DAG]:
    """Every connector's DAG, by dag_id; in a task process only the DAG that task belongs to."""
    try:
        rows, warning = read_registry()
    except Exception as exc:
        message = f"{type(exc).__name__}: {exc}"
        log.error("connector registry unreachable and no snapshot: %s", message)
        dag = build_error_dag(f"{settings.DAG_ID_PREFIX}registry_unavailable", "Atlas registry unavailable", message)
        return {dag.dag_id: dag}

    wanted = get_parsing_context().dag_id
    dags: dict[str, DAG] = {}
    watched = []
    for row in rows:
        entry = entry_from_row(row)
        dag_id = entry.spec.dag_id if entry.spec else invalid_dag_id(row)
        if not wanted or dag_id == wanted:
            dags[dag_id] = build_dag(entry, warning)
        if entry.spec is not None and entry.spec.max_staleness_minutes is not None:
            watched.append(entry.spec.source_name)
    if watched and wanted in (None, settings.FRESHNESS_DAG_ID):
        dags[settings.FRESHNESS_DAG_ID] = build_freshness_dag(watched)
    return dags
