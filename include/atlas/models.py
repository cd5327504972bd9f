"""Connector specs: a connector row, validated once at the edge and typed everywhere after.

A spec holds no secret: credentials live in the Airflow Connection named by ``conn_id``. The request
bodies people send (the seed's format, with inline credentials) are turned into specs by
:mod:`atlas.intake`.
"""

from __future__ import annotations

import functools
import re
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from atlas.exceptions import ConnectorConfigError
from atlas.schema import Kind
from atlas.settings import DAG_ID_PREFIX

SOURCE_NAME_PATTERN = r"^[a-z][a-z0-9_]{0,62}$"
# Identifiers are quoted by the driver when used; this only rejects what can never be a sane name
# (quotes, semicolons, control characters) so that a hostile row fails validation, visibly.
_IDENTIFIER_PART = re.compile(r"^[^\x00-\x1f\"`'\\;]{1,63}$")
_SECRET_HEADER = re.compile(r"authorization|token|secret|api[-_]?key|password|cookie", re.IGNORECASE)


def check_identifier(value: str, *, allow_schema: bool = True) -> str:
    """Validate a (possibly ``schema.``-qualified) table or column name; return it unchanged."""
    parts = value.split(".") if allow_schema else [value]
    if len(parts) > 2 or not all(_IDENTIFIER_PART.match(p) and p.strip() == p for p in parts):
        raise ValueError(
            f"{value!r} is not a safe identifier: use 1-63 characters without quotes, backticks, "
            "semicolons or control characters (optionally qualified as schema.table)"
        )
    return value


def _check_timezone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {value!r}; use an IANA name such as 'UTC' or 'Europe/Berlin'") from None
    return value


@functools.lru_cache(maxsize=4096)  # connectors share a handful of crons; parsing checks each row
def validate_cron(expression: str) -> str:
    """Check a cron string the way Airflow will, before a DAG is built from it.

    Airflow accepts a bad cron while building the DAG and fails later, taking down every DAG of the
    file; so each row's cron is checked here.
    """
    from airflow.sdk import CronTriggerTimetable

    try:
        CronTriggerTimetable(expression, timezone="UTC").validate()
    except Exception as exc:  # Airflow raises several types for bad crons
        raise ValueError(f"invalid cron expression {expression!r}: {exc}") from None
    return expression


class StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, frozen=True)


def _as_list(value: Any) -> Any:
    return [value] if isinstance(value, str) else value


# --------------------------------------------------------------------------------------- SQL sources
class SqlSourceConfig(StrictModel):
    """What to read from a PostgreSQL, MySQL/MariaDB or SQLite source."""

    table: str | None = Field(None, description="One table (optionally schema-qualified).")
    tables: list[str] | None = Field(None, description="Several tables: one mapped task and watermark each.")
    schema_name: str | None = Field(
        None, alias="schema", description="Every table of this schema (resolved from the catalog each run)."
    )
    query: str | None = Field(None, description="A custom SELECT (trusted admins); needs target_table.")
    columns: list[str] | None = Field(None, description="Columns to copy; default all.")
    primary_key: list[str] | None = Field(
        None, description="Merge key; introspected from the catalog when omitted. None found: append-only."
    )
    lookback_seconds: int = Field(
        0, ge=0, description="Re-read this window below the watermark to catch rows committed late."
    )
    batch_size: int = Field(10_000, ge=1, le=1_000_000, description="Rows per streamed batch.")
    source_timezone: str = Field("UTC", description="Zone of naive timestamps (MySQL DATETIME, timestamp).")
    detect_deletes: bool = Field(
        False,
        description="After each incremental run, set _atlas_deleted_at on warehouse rows whose primary key the "
        "source no longer has (needs a table with an integer, text or uuid primary key).",
    )
    max_delete_fraction: float = Field(
        0.1,
        ge=0,
        le=1,
        description="detect_deletes refuses (the run fails, nothing is marked) when more than this share of the "
        "warehouse's rows would be marked deleted: a source outage or a truncated table looks like that.",
    )

    model_config = ConfigDict(populate_by_name=True)

    _as_lists = field_validator("tables", "columns", "primary_key", mode="before")(_as_list)

    @field_validator("table", "schema_name")
    @classmethod
    def _identifier(cls, value: str | None) -> str | None:
        return None if value is None else check_identifier(value)

    @field_validator("tables")
    @classmethod
    def _identifiers(cls, value: list[str] | None) -> list[str] | None:
        if value is not None:
            if not value:
                raise ValueError("must name at least one table")
            for item in value:
                check_identifier(item)
        return value

    @field_validator("columns", "primary_key")
    @classmethod
    def _column_names(cls, value: list[str] | None) -> list[str] | None:
        for item in value or []:
            check_identifier(item, allow_schema=False)
        return value

    @field_validator("source_timezone")
    @classmethod
    def _timezone(cls, value: str) -> str:
        return _check_timezone(value)

    @field_validator("query")
    @classmethod
    def _select_only(cls, value: str | None) -> str | None:
        if value is not None and not re.match(r"^\s*(select|with)\b", value, re.IGNORECASE):
            raise ValueError("a custom query must be a single SELECT (or WITH … SELECT) statement")
        return value

    @model_validator(mode="after")
    def _one_selector(self) -> SqlSourceConfig:
        given = [n for n in ("table", "tables", "schema_name", "query") if getattr(self, n) is not None]
        if len(given) != 1:
            raise ValueError(
                "give exactly one of 'table', 'tables', 'schema' or 'query'"
                + (f" (got {', '.join(given)})" if given else "")
            )
        return self


# ------------------------------------------------------------------------------------- REST sources
class NoPagination(StrictModel):
    """One request; the body (or its record path) holds every record."""

    type: Literal["none"] = "none"


class _PagedBase(StrictModel):
    page_size: int | None = Field(None, ge=1, description="Records per page; sent as page_size_param.")
    page_size_param: str = "limit"
    max_pages: int | None = Field(None, ge=1, description="Stop after this many pages.")
    total_path: str | None = Field(None, description="Path of the total record count in the body.")
    has_more_path: str | None = Field(None, description="Path of a has-more flag; false stops.")


class _CountedBase(_PagedBase):
    stop_on_short_page: bool = Field(
        True,
        description="A page with fewer records than page_size is the last one. Turn off for APIs that cap "
        "the page size below what was asked.",
    )


class OffsetPagination(_CountedBase):
    """``offset``/``limit`` parameters; the offset advances by the records received."""

    type: Literal["offset"]
    offset_param: str = "offset"


class PagePagination(_CountedBase):
    """A page number parameter counting from ``first_page``."""

    type: Literal["page"]
    page_param: str = "page"
    first_page: int = 1
    page_size_param: str = "per_page"


class CursorPagination(_PagedBase):
    """An opaque next-page token read from the body and sent back as a parameter."""

    type: Literal["cursor"]
    cursor_path: str = Field("next_cursor", description="Path of the next cursor in the body.")
    cursor_param: str = "cursor"


class NextUrlPagination(_PagedBase):
    """The next page's URL read from the body (same host as the connection only)."""

    type: Literal["next_url"]
    next_url_path: str = Field("next", description="Path of the next page's URL in the body.")


class LinkHeaderPagination(_PagedBase):
    """RFC 8288 ``Link: <…>; rel="next"`` response header, as GitHub sends it."""

    type: Literal["link_header"]
    page_size_param: str = "per_page"


Pagination = Annotated[
    NoPagination | OffsetPagination | PagePagination | CursorPagination | NextUrlPagination | LinkHeaderPagination,
    Field(discriminator="type"),
]

AuthType = Literal["none", "bearer", "basic", "api_key", "oauth2", "token_endpoint"]
_TOKEN_AUTH_TYPES = ("oauth2", "token_endpoint")


class AuthConfig(StrictModel):
    """How to authenticate. The secrets themselves are in the connection, never here:

    ``bearer`` and ``api_key``: the connection's password; ``basic``: login/password; ``oauth2``
    (client credentials): login = client id, password = client secret; ``token_endpoint`` (a token
    POSTed for JSON ``{"username", "password"}``, e.g. Airflow's ``/auth/token``): login/password.
    """

    type: AuthType = "none"
    api_key_name: str = Field("X-API-Key", description="api_key: header or query parameter name.")
    api_key_in: Literal["header", "query"] = "header"
    token_url: str | None = Field(
        None, description="oauth2 / token_endpoint: where tokens come from (a path on the base URL or a URL)."
    )
    scope: str | None = Field(None, description="oauth2: requested scope.")
    client_auth: Literal["basic", "body"] = Field(
        "basic", description="oauth2: send the client id/secret as HTTP basic auth or in the form body."
    )
    username_field: str = Field("username", description="token_endpoint: JSON field carrying the login.")
    password_field: str = Field("password", description="token_endpoint: JSON field carrying the password.")
    token_path: str = Field("access_token", description="Path of the token in the token response.")
    expires_in_path: str = Field(
        "expires_in", description="Path of the lifetime in seconds; absent: the JWT 'exp', else until a 401."
    )
    refresh_margin_seconds: float = Field(60, ge=0, description="Refresh a token this long before expiry.")

    @model_validator(mode="after")
    def _token_url_needed(self) -> AuthConfig:
        if self.type in _TOKEN_AUTH_TYPES and not self.token_url:
            raise ValueError(f"auth type {self.type!r} needs 'token_url'")
        return self


class RateLimit(StrictModel):
    """Requests allowed for the whole run (pages, retries and token requests alike)."""

    requests_per_second: float | None = Field(None, gt=0)
    requests_per_minute: float | None = Field(None, gt=0)
    burst: int = Field(1, ge=1, description="Requests that may go out back to back before the rate applies.")


class RestApiConfig(StrictModel):
    """What to request from an HTTP JSON API, and how to page through it."""

    endpoint: str = Field(..., description="Path and query, e.g. '/search/repositories?q=python'.")
    stream: str | None = Field(None, description="Name of the stream (default: from the endpoint).")
    method: Literal["GET", "POST"] = "GET"
    params: dict[str, str | int | float | bool] = Field(default_factory=dict)
    headers: dict[str, str] = Field(default_factory=dict)
    body: dict[str, Any] | None = Field(None, description="JSON body of a POST request.")
    record_path: str | None = Field(None, description="Dotted path of the record list; default the body.")
    primary_key: list[str] | None = Field(None, description="Field(s) identifying a record; enables merge.")
    column_types: dict[str, Kind] = Field(
        default_factory=dict, description="Pin a field's column type instead of inferring it from the values."
    )
    pagination: Pagination = Field(default_factory=NoPagination)
    auth: AuthConfig = Field(default_factory=AuthConfig)
    rate_limit: RateLimit = Field(default_factory=RateLimit)
    timeout_seconds: float = Field(30, gt=0)
    max_retries: int = Field(5, ge=0, description="Retries of 429, 5xx and connection errors per request.")
    retry_backoff_seconds: float = Field(1.0, ge=0, description="First backoff; doubles per retry, jittered.")
    retry_max_backoff_seconds: float = Field(60.0, ge=0, description="Cap of a backoff and of Retry-After.")
    max_page_bytes: int = Field(50 * 1024 * 1024, ge=1, description="A larger response body fails the run.")
    cursor_param: str | None = Field(None, description="Request parameter carrying the watermark.")
    cursor_format: str | None = Field(
        None,
        description="How the watermark is sent: a strftime format, 'unix' or 'unix_ms' (timestamps); "
        "default ISO 8601 in UTC.",
    )
    lookback_seconds: int = Field(0, ge=0)
    batch_size: int = Field(10_000, ge=1, le=1_000_000, description="Rows per batch handed to the warehouse.")

    _as_lists = field_validator("primary_key", mode="before")(_as_list)

    @field_validator("headers")
    @classmethod
    def _no_secret_headers(cls, value: dict[str, str]) -> dict[str, str]:
        for name in value:
            if _SECRET_HEADER.search(name):
                raise ValueError(
                    f"header {name!r} looks like a credential: put secrets in the connection "
                    "(auth_token / password) and choose an auth type, not in config.headers"
                )
        return value

    @field_validator("endpoint")
    @classmethod
    def _relative(cls, value: str) -> str:
        if "://" in value:
            raise ValueError("endpoint is a path relative to the connection's base URL, not a full URL")
        return value if value.startswith("/") else "/" + value

    @field_validator("stream")
    @classmethod
    def _stream_name(cls, value: str | None) -> str | None:
        return None if value is None else check_identifier(value, allow_schema=False)

    @field_validator("primary_key", "column_types")
    @classmethod
    def _field_names(cls, value: Any) -> Any:
        for item in value or []:
            check_identifier(item, allow_schema=False)
        return value


# ------------------------------------------------------------------------------------- connectors
class ConnectorBase(StrictModel):
    connector_id: str | None = Field(None, description="Assigned by the registry.")
    source_name: Annotated[str, Field(pattern=SOURCE_NAME_PATTERN)] = Field(
        ..., description="Unique slug; the DAG is atlas__<source_name>."
    )
    conn_id: str = Field(..., min_length=1, description="Airflow Connection with host and credentials.")
    schedule_cron: str | None = Field(None, description="Cron string passed as the DAG's schedule; none: manual.")
    enabled: bool = True
    incremental: bool = False
    timestamp_column: str | None = Field(None, description="Cursor: a timestamp or ever-growing integer.")
    target_table: str | None = Field(None, description="Default raw.<source_name>__<stream>.")
    description: str | None = None
    retries: int = Field(3, ge=0, le=20)
    retry_delay_seconds: int = Field(60, ge=1, description="First retry delay; doubles on each retry.")
    queue: str | None = Field(None, description="Celery queue the sync tasks run on.")
    pool: str | None = Field(None, description="Airflow pool capping concurrent syncs.")
    max_staleness_minutes: int | None = Field(
        None,
        ge=1,
        description="Alert when the synced data is older than this: the API and page mark the connector stale "
        "and the atlas_freshness_monitor DAG fails naming it.",
    )

    @field_validator("schedule_cron")
    @classmethod
    def _cron(cls, value: str | None) -> str | None:
        return None if value in (None, "") else validate_cron(value)

    @field_validator("target_table")
    @classmethod
    def _target(cls, value: str | None) -> str | None:
        return None if value is None else check_identifier(value)

    @field_validator("timestamp_column")
    @classmethod
    def _cursor(cls, value: str | None) -> str | None:
        return None if value is None else check_identifier(value, allow_schema=False)

    @model_validator(mode="after")
    def _incremental_needs_cursor(self) -> ConnectorBase:
        if self.incremental and not self.timestamp_column:
            raise ValueError("incremental sync needs 'timestamp_column' (the cursor column or field)")
        return self

    @property
    def dag_id(self) -> str:
        return f"{DAG_ID_PREFIX}{self.source_name}"

    def to_row(self) -> dict[str, Any]:
        """The registry row (secret-free by construction)."""
        return self.model_dump(mode="json", by_alias=True)


class _SqlConnector(ConnectorBase):
    config: SqlSourceConfig

    @field_validator("config")
    @classmethod
    def _deletes_need_keys(cls, config: SqlSourceConfig, info: ValidationInfo) -> SqlSourceConfig:
        if config.detect_deletes:
            if config.query is not None:
                raise ValueError(
                    "detect_deletes compares a table's primary keys and cannot work on a custom 'query': "
                    "use 'table' or 'tables', or turn detect_deletes off"
                )
            if not info.data.get("incremental"):
                raise ValueError(
                    "detect_deletes needs incremental: true (a full refresh rebuilds the table from the "
                    "source, deleted rows included)"
                )
        return config

    @model_validator(mode="after")
    def _query_needs_target(self) -> _SqlConnector:
        if self.config.query is not None and not self.target_table:
            raise ValueError("a connector with a custom 'query' needs 'target_table'")
        return self


class PostgresConnector(_SqlConnector):
    source_type: Literal["postgresql"]


class MySqlConnector(_SqlConnector):
    source_type: Literal["mysql"]


class SqliteConnector(_SqlConnector):
    source_type: Literal["sqlite"]


class RestApiConnector(ConnectorBase):
    source_type: Literal["rest_api"]
    config: RestApiConfig


ConnectorSpec = Annotated[
    PostgresConnector | MySqlConnector | SqliteConnector | RestApiConnector,
    Field(discriminator="source_type"),
]
SqlConnector = PostgresConnector | MySqlConnector | SqliteConnector
SOURCE_TYPES: dict[str, type[ConnectorBase]] = {
    "postgresql": PostgresConnector,
    "mysql": MySqlConnector,
    "sqlite": SqliteConnector,
    "rest_api": RestApiConnector,
}
_SPEC_ADAPTER: TypeAdapter[ConnectorSpec] = TypeAdapter(ConnectorSpec)
_UNION_TAGS = set(SOURCE_TYPES) | {"none", "offset", "page", "cursor", "next_url", "link_header"}


def field_errors(exc: ValidationError) -> list[tuple[str, str]]:
    """``(dotted.field.path, message)`` pairs of a pydantic error, without the unions' tag values."""
    pairs = []
    for err in exc.errors():
        path = ".".join(str(p) for p in err["loc"] if p not in _UNION_TAGS)
        pairs.append((path, err["msg"].removeprefix("Value error, ")))
    return pairs


def parse_spec(data: dict[str, Any]) -> ConnectorSpec:
    """Validate a stored connector row. Raises :class:`ConnectorConfigError` naming every bad field."""
    name = str(data.get("source_name") or data.get("connector_id") or "<unnamed>")
    if data.get("source_type") not in SOURCE_TYPES:
        raise ConnectorConfigError(
            name,
            [("source_type", f"unknown source type {data.get('source_type')!r}; valid: {', '.join(SOURCE_TYPES)}")],
        )
    try:
        return _SPEC_ADAPTER.validate_python(data)
    except ValidationError as exc:
        raise ConnectorConfigError(name, field_errors(exc)) from None


def spec_json_schema(source_type: str) -> dict[str, Any]:
    return SOURCE_TYPES[source_type].model_json_schema(by_alias=True)
