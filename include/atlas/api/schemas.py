"""Response and request bodies of the connectors API (what its OpenAPI document shows).

Create and update take the raw JSON body (the seed's format or the extended one, see
:mod:`atlas.intake`), so they are not modelled here: their errors come from the spec validation,
field by field.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field, field_validator

from atlas.watermark import Watermark


class ConnectorType(BaseModel):
    source_type: str
    description: str
    config_schema: dict[str, Any] = Field(description="JSON Schema of a connector of this type.")


class FieldError(BaseModel):
    loc: list[str] = Field(description="Path of the bad field, e.g. ['config', 'table'].")
    msg: str


class LastRun(BaseModel):
    """The newest run of a connector, whichever of the registry or Airflow knows it first."""

    state: str
    at: datetime | None = Field(description="When it started (or was queued, if it has not started).")
    dag_run_id: str | None = None
    error: str | None = None


class RecentRun(BaseModel):
    """One DAG run of a connector as the registry recorded it, its streams taken together."""

    dag_run_id: str | None = Field(description="None for a sync run outside Airflow (`atlas sync`).")
    state: Literal["running", "success", "failed"] = Field(
        description="running while a stream runs; else failed if a stream failed (its last try); else success."
    )
    started_at: datetime
    finished_at: datetime | None
    duration_seconds: float | None
    rows_written: int = Field(description="Rows written by all its streams (each stream's last try).")
    streams: int


class ConnectorSummary(BaseModel):
    connector_id: str
    source_name: str
    source_type: str | None
    dag_id: str
    valid: bool
    errors: list[FieldError] = Field(default_factory=list, description="Why an invalid row cannot run.")
    enabled: bool | None
    schedule_cron: str | None
    incremental: bool | None
    dag_parsed: bool = Field(description="Airflow has parsed the connector's DAG (it can be triggered).")
    dag_paused: bool | None = Field(description="None while the DAG is not parsed.")
    last_run: LastRun | None
    last_success_at: datetime | None = Field(description="When a sync of this connector last succeeded.")
    freshness_lag_seconds: float | None = Field(
        description="Age of the synced data: now minus the oldest time-based watermark of its current streams "
        "(a stream without one counts from its last successful sync). None until every stream has succeeded."
    )
    max_staleness_minutes: int | None = Field(description="The connector's freshness limit, if it has one.")
    stale: bool = Field(description="The data is older than max_staleness_minutes (or never synced within it).")
    recent_runs: list[RecentRun] = Field(
        default_factory=list, description="The newest runs recorded by the sync task, oldest first (for trends)."
    )


class ConnectionInfo(BaseModel):
    """The Airflow Connection a connector uses; secrets are always ``***``."""

    conn_id: str
    exists: bool
    conn_type: str | None = None
    host: str | None = None
    port: int | None = None
    schema_: str | None = Field(None, alias="schema")
    login: str | None = None
    password: str | None = None
    extra: str | None = None


class ConnectorDetail(ConnectorSummary):
    connector: dict[str, Any] = Field(description="The stored definition (never holds a secret).")
    connection: ConnectionInfo | None
    created_at: datetime | None
    updated_at: datetime | None


class DeleteResult(BaseModel):
    connector_id: str
    source_name: str
    watermarks_deleted: int | None = None
    connection_deleted: bool | None = None


class TestResult(BaseModel):
    ok: bool
    message: str


class SyncRequest(BaseModel):
    """The run's conf: the same keys as the DAG's trigger form and ``airflow dags trigger --conf``."""

    full_refresh: bool = Field(False, description="Rebuild the target and reset the watermark.")
    since: str | None = Field(None, description="Re-sync from this cursor value (ISO timestamp or integer).")

    @field_validator("since")
    @classmethod
    def _since(cls, value: str | None) -> str | None:
        if value is not None:
            Watermark.parse_since("since", value)  # raises ValueError naming the accepted formats
        return value


class SyncStarted(BaseModel):
    connector_id: str
    dag_id: str
    dag_run_id: str
    state: str
    conf: dict[str, Any]
    dag_paused: bool
    message: str


class HistoryItem(BaseModel):
    """One run of one stream (from ``sync_runs``), or a DAG run that has not recorded one yet."""

    origin: Literal["sync_run", "dag_run"] = Field(
        description="sync_run: the sync task recorded it; dag_run: only Airflow knows it so far."
    )
    sync_run_id: int | None = None
    dag_run_id: str | None
    stream: str | None = None
    state: str
    full_refresh: bool | None = None
    rows_read: int | None = None
    rows_written: int | None = None
    rows_deleted: int | None = Field(None, description="Rows marked deleted (detect_deletes); null: not enabled.")
    watermark_before: dict[str, Any] | None = None
    watermark_after: dict[str, Any] | None = None
    started_at: datetime | None
    finished_at: datetime | None
    duration_seconds: float | None
    error: str | None = None
    try_number: int | None = None


class History(BaseModel):
    connector_id: str
    total: int
    limit: int
    offset: int
    runs: list[HistoryItem]


class StreamSchema(BaseModel):
    class Column(BaseModel):
        name: str
        type: str
        source_type: str | None
        nullable: bool

    name: str
    primary_key: list[str]
    columns: list[Column]


class DiscoveredSchema(BaseModel):
    connector_id: str
    streams: list[StreamSchema]
