"""REST API source: one endpoint of an HTTP JSON API as one stream, described by a connector row.

How a run reads: every page is fetched first (paced, retried, paginated, checked) and its records
are spooled (in memory up to :data:`SPOOL_MEMORY_BYTES`, then a temporary file), while the column
set and types are inferred from *every* record. Only then is :attr:`StreamRead.schema` exposed and
the rows streamed to the warehouse. So a field that first appears on page 40 still gets its column
in this run, a value that widens a type (an int, later a float) widens it for the whole run, and a
bad page anywhere fails the run before anything is loaded. Memory stays bounded by one page plus
one batch.
"""

from __future__ import annotations

import logging
import pickle
import re
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import IO, Any

from atlas.connections import get_connection
from atlas.exceptions import SourceError
from atlas.http.auth import Credentials, build_auth
from atlas.http.client import HttpClient, origin
from atlas.http.pagination import Page, PageRequest, build_paginator, iter_pages
from atlas.http.ratelimit import RateLimiter, RetryPolicy
from atlas.http.records import RecordError, RowConverter, SchemaBuilder, kind_of, parse_timestamp
from atlas.http.redact import Redactor
from atlas.models import RestApiConnector
from atlas.schema import Kind, TableSchema
from atlas.settings import use_server_secrets_backends
from atlas.sources.base import Batch, ReadRequest
from atlas.watermark import Watermark

log = logging.getLogger(__name__)

#: Records of a run stay in memory up to this much JSON received (~10x that in Python objects); the
#: rest goes to a temporary file.
SPOOL_MEMORY_BYTES = 4 * 1024 * 1024


def stream_name(endpoint: str) -> str:
    """The default stream name: the endpoint's last path segment as an identifier (``repositories``)."""
    segments = [s for s in endpoint.split("?", 1)[0].split("/") if s and not s.startswith("{")]
    name = re.sub(r"[^a-z0-9_]+", "_", segments[-1].lower()).strip("_") if segments else ""
    return name or "records"


def format_watermark(value: Watermark, cursor_format: str | None) -> str:
    """The watermark as a request parameter; timestamps truncate down (re-reading is harmless)."""
    raw = value.value
    if isinstance(raw, datetime):
        raw = raw.astimezone(UTC)
        if cursor_format == "unix":
            return str(int(raw.timestamp()))
        if cursor_format == "unix_ms":
            return str(int(raw.timestamp() * 1000))
        return raw.strftime(cursor_format or "%Y-%m-%dT%H:%M:%SZ")
    if isinstance(raw, date):
        return raw.strftime(cursor_format or "%Y-%m-%d")
    return str(raw)


def cursor_value(value: Any) -> int | datetime | date | None:
    """A record's cursor as a comparable value: an integer, an aware timestamp or a date; else None."""
    kind = kind_of(value)
    if kind == Kind.INT64:
        return value
    if kind in (Kind.TIMESTAMPTZ, Kind.TIMESTAMP):
        parsed = parse_timestamp(value)
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    if kind == Kind.DATE:
        return date.fromisoformat(value)
    return None


class _Spool:
    """Pages of records kept until the schema is known, then read back once, in order.

    The first :data:`SPOOL_MEMORY_BYTES` (counted as JSON received) stay as Python objects; later
    pages are pickled to a temporary file (our own pickles only), so memory stays bounded whatever
    the size of the API.
    """

    def __init__(self) -> None:
        self._memory: list[list[dict[str, Any]]] = []
        self._memory_bytes = 0
        self._file: IO[bytes] | None = None
        self._spilled = 0

    def write(self, records: list[dict[str, Any]], size: int) -> None:
        if self._file is None and self._memory_bytes + size <= SPOOL_MEMORY_BYTES:
            self._memory.append(records)
            self._memory_bytes += size
            return
        if self._file is None:
            self._file = tempfile.TemporaryFile()  # noqa: SIM115 (closed by close(), when read() ends)
        pickle.dump(records, self._file, protocol=pickle.HIGHEST_PROTOCOL)
        self._spilled += 1

    def __iter__(self) -> Iterator[list[dict[str, Any]]]:
        yield from self._memory
        if self._file is not None:
            self._file.seek(0)
            for _ in range(self._spilled):
                yield pickle.load(self._file)

    def close(self) -> None:
        self._memory.clear()
        if self._file is not None:
            self._file.close()


@dataclass
class _RestRead:
    """A finished fetch, ready to hand its rows to the warehouse in batches."""

    source: RestApiSource
    schema: TableSchema
    spool: _Spool
    batch_size: int
    upper_bound: Watermark | None
    bytes_read: int | None

    def batches(self) -> Iterator[Batch]:
        converter = RowConverter(self.schema, self.source.config.column_types)
        batch: list[tuple[Any, ...]] = []
        for records in self.spool:
            for record in records:
                try:
                    batch.append(converter.row(record))
                except RecordError as exc:
                    raise self.source.error(str(exc)) from None
                if len(batch) >= self.batch_size:
                    yield batch
                    batch = []
        if batch:
            yield batch


class RestApiSource:
    """A :class:`~atlas.sources.base.Source` over one endpoint of an HTTP JSON API."""

    def __init__(self, spec: RestApiConnector):
        self.spec = spec
        self.config = spec.config
        self.stream = self.config.stream or stream_name(self.config.endpoint)

    def error(self, message: str) -> SourceError:
        return SourceError(f"connector {self.spec.source_name!r}: {message}")

    # ---------------------------------------------------------------------------------- protocol
    def test_connection(self) -> tuple[bool, str]:
        try:
            with self._client() as client:
                page = next(self._pages(client, None))
        except Exception as exc:  # the contract: report, never raise
            return False, str(exc) if isinstance(exc, SourceError) else f"{type(exc).__name__}: {exc}"
        url = client.redactor.url(page.response.url)
        return True, f"{page.response.method} {url}: HTTP {page.response.status}, {len(page.records)} records"

    def streams(self) -> list[str]:
        return [self.stream]

    def discover(self, stream: str) -> TableSchema:
        """Columns inferred from the first page only (a run infers from every page it reads)."""
        self._check_stream(stream)
        with self._client() as client:
            page = next(self._pages(client, None))
            builder = SchemaBuilder(self.config.column_types)
            self._add(builder, page, client)
        return builder.schema(stream, tuple(self.config.primary_key or ()))

    @contextmanager
    def read(self, stream: str, request: ReadRequest) -> Iterator[_RestRead]:
        self._check_stream(stream)
        spool = _Spool()
        try:
            with self._client() as client:
                started = time.monotonic()
                builder = SchemaBuilder(self.config.column_types)
                highest: Any = None
                records = pages = 0
                for page in self._pages(client, request):
                    self._add(builder, page, client)
                    if request.cursor:
                        highest = self._highest_cursor(page, request.cursor, highest, client)
                    spool.write(page.records, len(page.response.content))
                    pages += 1
                    records += len(page.records)
                log.info(
                    "%s: fetched %d records in %d pages (%d requests, %d bytes) in %.2fs",
                    self.spec.source_name,
                    records,
                    pages,
                    client.requests_sent,
                    client.bytes_read,
                    time.monotonic() - started,
                )
                schema = builder.schema(stream, tuple(self.config.primary_key or ()))
                upper = Watermark.of(request.cursor, highest) if highest is not None else None
                bytes_read = client.bytes_read
            yield _RestRead(self, schema, spool, request.batch_size, upper, bytes_read)
        finally:
            spool.close()

    # ---------------------------------------------------------------------------------- helpers
    def _check_stream(self, stream: str) -> None:
        if stream != self.stream:
            raise self.error(f"unknown stream {stream!r}; this connector has {self.stream!r}")

    @contextmanager
    def _client(self) -> Iterator[HttpClient]:
        from airflow.providers.http.hooks.http import HttpHook
        from airflow.sdk.exceptions import AirflowNotFoundException

        config = self.config
        use_server_secrets_backends()
        hook = HttpHook(method=config.method, http_conn_id=self.spec.conn_id)
        try:
            connection = get_connection(self.spec.conn_id)
            session = hook.get_conn(headers=config.headers)
        except AirflowNotFoundException:
            raise self.error(
                f"the Airflow connection {self.spec.conn_id!r} does not exist: create it (type http, host = the "
                "API's base URL, password = the token or key)"
            ) from None
        except ValueError as exc:
            raise self.error(f"the Airflow connection {self.spec.conn_id!r} has no usable base URL: {exc}") from None
        # HttpHook sets basic auth from login/password; the connector's auth type decides instead.
        session.auth = None
        secret_params = (config.auth.api_key_name,) if config.auth.api_key_in == "query" else ()
        client = HttpClient(
            connector=self.spec.source_name,
            base_url=hook.base_url,
            session=session,
            limiter=RateLimiter.from_config(config.rate_limit),
            retry=RetryPolicy(config.max_retries, config.retry_backoff_seconds, config.retry_max_backoff_seconds),
            timeout=config.timeout_seconds,
            max_page_bytes=config.max_page_bytes,
            redactor=Redactor(secret_params),
        )
        if config.auth.token_url and "://" in config.auth.token_url:
            client.allowed_origins.add(origin(config.auth.token_url))
        try:
            client.auth = build_auth(config.auth, Credentials(connection.login, connection.password), client)
            yield client
        finally:
            client.close()

    def _pages(self, client: HttpClient, request: ReadRequest | None) -> Iterator[Page]:
        config = self.config
        params: dict[str, Any] = dict(config.params)
        if request is not None and request.lower_bound is not None and config.cursor_param:
            params[config.cursor_param] = format_watermark(request.lower_bound, config.cursor_format)
        return iter_pages(
            client,
            build_paginator(config.pagination, client),
            PageRequest(client.endpoint_url(config.endpoint), params),
            method=config.method,
            body=config.body,
            record_path=config.record_path,
        )

    def _add(self, builder: SchemaBuilder, page: Page, client: HttpClient) -> None:
        try:
            builder.add(page.records)
        except RecordError as exc:
            raise client.error(f"{client.redactor.url(page.response.url)}: {exc}") from None
        for key in self.config.primary_key or ():
            for index, record in enumerate(page.records):
                if record.get(key) is None:
                    raise client.error(
                        f"{client.redactor.url(page.response.url)}: record {index} has no primary key field "
                        f"{key!r} (primary_key: {', '.join(self.config.primary_key)})"
                    )

    @staticmethod
    def _highest_cursor(page: Page, cursor: str, highest: Any, client: HttpClient) -> Any:
        for index, record in enumerate(page.records):
            raw = record.get(cursor)
            if raw is None and cursor in record:
                continue  # loaded, but says nothing about how far the run got (e.g. an unset end_date)
            value = cursor_value(raw)
            if value is None:
                got = "no such field" if cursor not in record else f"{raw!r}"
                raise client.error(
                    f"{client.redactor.url(page.response.url)}: record {index} has no usable cursor "
                    f"{cursor!r} ({got}); expected an integer or an ISO 8601 timestamp (or null) in every record"
                )
            if highest is None:
                highest = value
            elif type(value) is not type(highest):
                raise client.error(
                    f"{client.redactor.url(page.response.url)}: record {index}: cursor {cursor!r} is "
                    f"{raw!r}, while earlier records had {type(highest).__name__} values"
                )
            elif value > highest:
                highest = value
        return highest
