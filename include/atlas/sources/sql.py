"""What the PostgreSQL, MySQL/MariaDB and SQLite sources share.

A SQL source reads one stream (a table, or a custom query) inside ONE consistent snapshot: it opens a
read-only repeatable-read transaction, takes ``max(cursor)`` there, then streams the rows of the same
snapshot. The upper bound therefore never claims a row the read did not see, and rows committed by others
during the read are neither read nor covered by the bound: the next run picks them up.

Each driver supplies the dialect: how to connect through its Airflow provider hook, quote identifiers,
read the catalog, map catalog types onto :class:`~atlas.schema.Kind`, open the snapshot and stream rows.
Everything else — resolving streams, validating names against the catalog, building the SELECT,
converting watermarks to and from the source's time zone, the read loop — is written once, here.

Cursor semantics, on purpose:

* The lower bound is inclusive (``cursor >= lower_bound``): rows sharing the watermark value are read
  again and merged by primary key, so ties at the boundary are never skipped.
* Rows whose cursor is NULL are read by a full refresh (no lower bound, no WHERE) but never by an
  incremental run, because ``NULL >= x`` is never true. Give such rows a cursor value, or run a full
  refresh, to sync them.
* Naive timestamps (PostgreSQL ``timestamp``, MySQL ``DATETIME``, SQLite text) are wall-clock times in
  the connector's ``source_timezone``; watermarks are UTC instants and are converted both ways.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime, time
from typing import Any, ClassVar
from zoneinfo import ZoneInfo

from atlas.deletes import Dialect, KeySpace, SqlKeys
from atlas.exceptions import SourceError
from atlas.models import SqlConnector
from atlas.schema import CURSOR_KINDS, Column, Kind, TableSchema
from atlas.sources.base import Batch, CopyChunk, ReadRequest
from atlas.watermark import Watermark

#: Alias of a custom query wrapped as a sub-select.
QUERY_ALIAS = "atlas_query"
_TIME_KINDS = (Kind.TIMESTAMP, Kind.TIMESTAMPTZ, Kind.DATE)


@dataclass(frozen=True)
class TableRef:
    """A table named by a stream; ``schema`` None means the connection's default schema/database."""

    schema: str | None
    name: str

    def __str__(self) -> str:
        return f"{self.schema}.{self.name}" if self.schema else self.name


@dataclass(frozen=True)
class SourceColumn:
    """A column as the catalog describes it, and how to read it faithfully.

    ``select`` wraps the quoted column name when the driver's own value would not be faithful (e.g.
    PostgreSQL arrays read as JSON); ``convert`` fixes a non-NULL value on the tuple path (e.g. MySQL
    ``TINYINT(1)`` 0/1 to bool). Most columns need neither, and cost nothing per value.
    """

    column: Column
    select: str = "{}"
    convert: Callable[[Any], Any] | None = None

    @property
    def name(self) -> str:
        return self.column.name

    @property
    def kind(self) -> Kind:
        return self.column.type.kind


@dataclass(frozen=True)
class Described:
    """A stream resolved against the catalog: where its rows come from and what they look like."""

    stream: str
    source: TableRef | str  # a table, or the text of a custom query
    columns: tuple[SourceColumn, ...]  # every column of the table/query
    primary_key: tuple[str, ...]


class SqlSource(ABC):
    """A :class:`~atlas.sources.base.Source` over a SQL database; subclasses supply the dialect."""

    #: Product name for messages.
    dialect_name: ClassVar[str]
    #: The driver's placeholder: ``%s`` (format paramstyle, where ``%`` in SQL text must be doubled) or ``?``.
    placeholder: ClassVar[str] = "%s"
    #: How delete detection's key checksums are spelled (:mod:`atlas.deletes`).
    key_dialect: ClassVar[Dialect]
    #: The driver's connections may be used from another thread than the one that opened them.
    thread_safe: ClassVar[bool] = True

    def __init__(self, spec: SqlConnector):
        self.spec = spec
        self.config = spec.config
        self.zone = ZoneInfo(spec.config.source_timezone)

    # ------------------------------------------------------------------------------- dialect hooks
    @abstractmethod
    def _connect(self) -> Any:
        """A new DB-API connection from the Airflow Connection ``spec.conn_id``, via the provider hook."""

    @abstractmethod
    def _quote(self, identifier: str) -> str:
        """``identifier`` quoted by the driver's rules (not yet ``%``-escaped)."""

    @abstractmethod
    def _begin_snapshot(self, conn: Any) -> None:
        """End the catalog lookups' transaction; start the read-only, repeatable-read one of the read."""

    @abstractmethod
    def _server_version(self, conn: Any) -> str:
        """What was reached, for :meth:`test_connection` (product and version)."""

    @abstractmethod
    def _list_tables(self, conn: Any, schema: str | None) -> list[str]:
        """Base tables of ``schema`` (None: the default one), sorted."""

    @abstractmethod
    def _table_columns(self, conn: Any, table: TableRef) -> tuple[list[SourceColumn], tuple[str, ...]] | None:
        """Columns (catalog order) and primary key of ``table``; None when there is no such table."""

    @abstractmethod
    def _query_columns(self, conn: Any, query: str) -> list[SourceColumn]:
        """Columns of a custom query's result (typically from a ``LIMIT 0`` execution)."""

    @abstractmethod
    def _stream_rows(self, conn: Any, sql: str, params: tuple[Any, ...], batch_size: int) -> Iterator[list[tuple]]:
        """Run ``sql`` and yield its rows, at most ``batch_size`` at a time, without buffering the result."""

    @abstractmethod
    def _driver_errors(self) -> tuple[type[Exception], ...]:
        """The driver's exception classes: turned into :class:`SourceError` with :meth:`_explain`."""

    @abstractmethod
    def _explain(self, exc: Exception) -> str:
        """A driver error as a sentence saying what to fix."""

    def _stream_copy_text(
        self, conn: Any, columns: tuple[SourceColumn, ...], sql: str, params: tuple[Any, ...], batch_size: int
    ) -> Iterator[CopyChunk] | None:
        """COPY-text chunks of the rows of ``sql`` (which selects ``columns``), or None when this source
        cannot produce them exactly."""
        return None

    def _bytes_read(self, conn: Any) -> int | None:
        """Bytes the server sent on this connection, when the driver or server can tell."""
        return None

    def _cursor_expression(self, expression: str, column: SourceColumn) -> str:
        """How the cursor column and its bound parameters are compared (SQLite normalises text times)."""
        return expression

    def _adapt_param(self, value: Any, column: SourceColumn) -> Any:
        """A bound parameter for a cursor comparison, in the form the driver expects."""
        return value

    def _key_session(self, conn: Any) -> None:  # noqa: B027  (most dialects need nothing)
        """Prepare the snapshot's session for delete detection's checksum queries."""

    # ----------------------------------------------------------------------------- Source protocol
    def test_connection(self) -> tuple[bool, str]:
        """Connect, then check every stream, its columns and the cursor against the catalog; never raises."""
        try:
            with self._connection() as conn, self.driver_errors_as_source_errors():
                version = self._server_version(conn)
                streams = self._streams(conn)
                for stream in streams:
                    described = self._describe(conn, stream)
                    if self.spec.incremental and self.spec.timestamp_column:
                        self.cursor_column(described, self.spec.timestamp_column)
                found = "the query runs" if self.config.query is not None else f"{len(streams)} table(s) found"
                return True, f"connected to {version}; {found}: {', '.join(streams)}"
        except SourceError as exc:
            return False, str(exc)
        except Exception as exc:  # the contract is: never raise, say what to fix
            return False, self._error_message(exc)

    def streams(self) -> list[str]:
        """``table`` / ``tables`` as given; ``schema``: its base tables now; ``query``: the target's name."""
        if self.config.table is not None:
            return [self.config.table]
        if self.config.tables is not None:
            return list(self.config.tables)
        if self.config.query is not None:
            return [self._query_stream]
        with self._connection() as conn, self.driver_errors_as_source_errors():
            return self._streams(conn)

    def discover(self, stream: str) -> TableSchema:
        with self._connection() as conn, self.driver_errors_as_source_errors():
            return self._schema(self._describe(conn, stream))

    @contextmanager
    def read(self, stream: str, request: ReadRequest) -> Iterator[SqlStreamRead]:
        """Open the snapshot, validate everything against the catalog, then hand out the rows.

        Nothing is read before the stream, its columns and the cursor have been checked.
        """
        with self._connection() as conn:
            with self.driver_errors_as_source_errors():
                # Describing first keeps catalog work (and MySQL's query probe, which writes a temporary
                # table) out of the read-only snapshot; a column changed in between fails the SELECT.
                described = self._describe(conn, stream)
                self._begin_snapshot(conn)
                opened = SqlStreamRead(self, conn, described, request)
            # Errors of the caller's code (e.g. a destination on the same driver) pass through unwrapped.
            yield opened

    @contextmanager
    def key_side(self, stream: str) -> Iterator[SqlKeys]:
        """The keys of ``stream`` for delete detection, read in one snapshot (see :mod:`atlas.deletes`)."""
        with self._connection() as conn:
            with self.driver_errors_as_source_errors():
                described = self._describe(conn, stream)
                self._begin_snapshot(conn)
                self._key_session(conn)
            table = self._table_sql(described, self._quote)
            yield SqlKeys(self.key_dialect, lambda sql: self._all_rows(conn, sql), table, thread_safe=self.thread_safe)

    # ------------------------------------------------------------------------------------- helpers
    def _all_rows(self, conn: Any, sql: str) -> list[tuple]:
        """Every row of ``sql``, run without parameters (its ``%`` are not placeholders)."""
        with self.driver_errors_as_source_errors():
            cur = conn.cursor()
            try:
                cur.execute(sql)
                return list(cur.fetchall())
            finally:
                cur.close()

    def _scalar(self, conn: Any, sql: str, params: tuple[Any, ...]) -> Any:
        cur = conn.cursor()
        try:
            cur.execute(sql, params)
            return cur.fetchone()[0]
        finally:
            cur.close()

    @contextmanager
    def driver_errors_as_source_errors(self) -> Iterator[None]:
        """Turn the driver's exceptions into a :class:`SourceError` naming connector and connection."""
        try:
            yield
        except SourceError:
            raise
        except self._driver_errors() as exc:
            raise SourceError(self._error_message(exc)) from exc

    @contextmanager
    def _connection(self) -> Iterator[Any]:
        try:
            conn = self._connect()
        except SourceError:
            raise
        except Exception as exc:
            raise SourceError(self._error_message(exc)) from exc
        try:
            yield conn
        finally:
            # Read-only work: nothing to keep. A read abandoned mid-stream may leave the connection
            # unusable for a ROLLBACK; closing it ends the transaction anyway.
            with suppress(Exception):
                conn.rollback()
            conn.close()

    def _error_message(self, exc: Exception) -> str:
        from airflow.sdk.exceptions import AirflowNotFoundException

        prefix = f"connector {self.spec.source_name!r} ({self.dialect_name}, connection {self.spec.conn_id!r})"
        if isinstance(exc, AirflowNotFoundException):
            return (
                f"{prefix}: the Airflow connection is not defined; create it (Admin > Connections, "
                "`airflow connections add`, or an AIRFLOW_CONN_<ID> variable)"
            )
        return f"{prefix}: {self._explain(exc)}"

    def error(self, field: str, message: str) -> SourceError:
        """A :class:`SourceError` naming this connector and the offending field."""
        return SourceError(f"connector {self.spec.source_name!r}: {field}: {message}")

    @property
    def _selector_field(self) -> str:
        for name, field in (("table", "table"), ("tables", "tables"), ("schema_name", "schema"), ("query", "query")):
            if getattr(self.config, name) is not None:
                return f"config.{field}"
        raise AssertionError("SqlSourceConfig guarantees one selector")

    @property
    def _query_stream(self) -> str:
        return (self.spec.target_table or "query").rsplit(".", 1)[-1]

    def _streams(self, conn: Any) -> list[str]:
        if self.config.schema_name is None:
            return self.streams()
        tables = self._list_tables(conn, self.config.schema_name)
        if not tables:
            raise self.error(
                "config.schema",
                f"schema {self.config.schema_name!r} has no tables (or does not exist) in the database of "
                f"connection {self.spec.conn_id!r}",
            )
        return tables

    def _table_ref(self, stream: str) -> TableRef:
        if self.config.schema_name is not None:
            if "." in stream:
                raise self.error("config.schema", f"stream {stream!r}: expected a bare table name of the schema")
            return TableRef(self.config.schema_name, stream)
        configured = [self.config.table] if self.config.table is not None else self.config.tables or []
        if stream not in configured:
            raise self.error(self._selector_field, f"{stream!r} is not a stream of this connector ({configured})")
        schema, _, name = stream.rpartition(".")
        return TableRef(schema or None, name)

    def _describe(self, conn: Any, stream: str) -> Described:
        """Resolve ``stream`` against the catalog; raise naming the field when something is not there."""
        if self.config.query is not None:
            if stream != self._query_stream:
                raise self.error(
                    "config.query", f"stream {stream!r} unknown; this connector's only stream is {self._query_stream!r}"
                )
            columns = self._query_columns(conn, self.config.query)
            primary_key = tuple(self.config.primary_key or ())
            source: TableRef | str = self.config.query
        else:
            table = self._table_ref(stream)
            found = self._table_columns(conn, table)
            if found is None:
                raise self.error(
                    self._selector_field,
                    f"table {str(table)!r} not found in the database of connection {self.spec.conn_id!r} "
                    "(names are case-sensitive; qualify as schema.table if it is not in the default schema)",
                )
            columns, primary_key = found[0], self.config.primary_key or found[1]
            source = table
        by_name = {c.name: c for c in columns}
        if self.config.columns is not None:
            missing = [c for c in self.config.columns if c not in by_name]
            if missing:
                raise self.error(
                    "config.columns",
                    f"no column {', '.join(map(repr, missing))} in {stream!r}; it has {', '.join(by_name)}",
                )
        selected = set(self.config.columns or by_name)
        if self.config.primary_key is not None:
            field, bad = "config.primary_key", [c for c in primary_key if c not in by_name]
            if bad:
                raise self.error(field, f"no column {', '.join(map(repr, bad))} in {stream!r}")
        unselected_key = [c for c in primary_key if c not in selected]
        if unselected_key:
            raise self.error(
                "config.columns",
                f"must include the primary key column(s) "
                f"{', '.join(map(repr, unselected_key))} of {stream!r} (or set config.primary_key)",
            )
        described = Described(stream, source, tuple(columns), tuple(primary_key))
        if self.config.detect_deletes:
            try:
                KeySpace.of(self._schema(described))
            except ValueError as exc:
                raise self.error("config.detect_deletes", str(exc)) from None
        return described

    def _selected(self, described: Described) -> tuple[SourceColumn, ...]:
        if self.config.columns is None:
            return described.columns
        by_name = {c.name: c for c in described.columns}
        return tuple(by_name[name] for name in self.config.columns)

    def _schema(self, described: Described) -> TableSchema:
        columns = tuple(c.column for c in self._selected(described))
        return TableSchema(described.stream, columns, described.primary_key)

    def quoted(self, identifier: str) -> str:
        """``identifier`` quoted for SQL text that is executed with bound parameters."""
        return self._escape(self._quote(identifier))

    def _escape(self, text: str) -> str:
        return text.replace("%", "%%") if self.placeholder == "%s" else text

    def _from(self, described: Described) -> str:
        if isinstance(described.source, str):
            query = described.source.strip().rstrip(";")
            return f"({self._escape(query)}) AS {self.quoted(QUERY_ALIAS)}"
        return self._table_sql(described, self.quoted)

    @staticmethod
    def _table_sql(described: Described, quote: Callable[[str], str]) -> str:
        """The stream's table, named with ``quote`` (escaped for bound parameters, or not)."""
        table = described.source
        if not isinstance(table, TableRef):
            raise AssertionError("a custom query has no table; SqlSourceConfig forbids detect_deletes with one")
        return ".".join(quote(part) for part in (table.schema, table.name) if part is not None)

    def cursor_column(self, described: Described, cursor: str) -> SourceColumn:
        """The cursor column, checked: it exists and its type can only grow."""
        for column in described.columns:
            if column.name == cursor:
                if column.kind not in CURSOR_KINDS:
                    raise self.error(
                        "timestamp_column",
                        f"column {cursor!r} of {described.stream!r} is {column.column.type.source_type} "
                        f"({column.kind}); a cursor must be a timestamp, date or ever-growing integer",
                    )
                return column
        raise self.error(
            "timestamp_column",
            f"no column {cursor!r} in {described.stream!r}; it has {', '.join(c.name for c in described.columns)}",
        )

    # ------------------------------------------------------------------------ watermark <-> source
    def to_source_value(self, watermark: Watermark, column: SourceColumn) -> Any:
        """The watermark as a value comparable with ``column`` (naive times in ``source_timezone``).

        A date watermark is a calendar date: it bounds a DATE column as is, and a timestamp column from
        midnight UTC of that date.
        """
        kind, value = column.kind, watermark.value
        if kind not in _TIME_KINDS and watermark.type in ("integer", "decimal"):
            return value
        if kind == Kind.DATE and watermark.type == "date":
            return self._adapt_param(value, column)
        if kind in _TIME_KINDS and watermark.type in ("timestamp", "date"):
            instant = value if watermark.type == "timestamp" else datetime.combine(value, time(), tzinfo=UTC)
            if kind == Kind.TIMESTAMPTZ:
                return self._adapt_param(instant, column)
            local = instant.astimezone(self.zone)
            return self._adapt_param(local.date() if kind == Kind.DATE else local.replace(tzinfo=None), column)
        raise self.error(
            "timestamp_column",
            f"the stored watermark ({watermark}) is of type {watermark.type} but column {column.name!r} is "
            f"{column.kind}; the cursor column changed type: run a full refresh",
        )

    def to_watermark(self, cursor: str, value: Any, column: SourceColumn) -> Watermark:
        """The watermark of a source value: naive timestamps are wall-clock times in ``source_timezone``."""
        if column.convert is not None:
            value = column.convert(value)
        if isinstance(value, datetime) and value.tzinfo is None and column.kind == Kind.TIMESTAMP:
            value = value.replace(tzinfo=self.zone)
        return Watermark.of(cursor, value)


class SqlStreamRead:
    """An open read of one stream inside the source's snapshot (see :class:`SqlSource`)."""

    def __init__(self, source: SqlSource, conn: Any, described: Described, request: ReadRequest):
        self._source, self._conn, self._request = source, conn, request
        self.schema = source._schema(described)
        self._columns = source._selected(described)
        self._upper: Watermark | None = None
        self._bytes_read: int | None = None
        select = ", ".join(c.select.format(source.quoted(c.name)) for c in self._columns)
        self._sql = f"SELECT {select} FROM {source._from(described)}"
        self._params: tuple[Any, ...] = ()
        self._empty = False
        if request.cursor is not None:
            self._bound(described, request)

    def _bound(self, described: Described, request: ReadRequest) -> None:
        """Take the snapshot's max(cursor) and restrict the read to ``[lower_bound, max]``."""
        source = self._source
        cursor = source.cursor_column(described, request.cursor)
        # Compared as it is read (e.g. MySQL BIT as a number), so the bound matches the values.
        column = source._cursor_expression(cursor.select.format(source.quoted(cursor.name)), cursor)
        param = source._cursor_expression(source.placeholder, cursor)
        where, params = "", ()
        if request.lower_bound is not None:
            where, params = f" WHERE {column} >= {param}", (source.to_source_value(request.lower_bound, cursor),)
        max_sql = f"SELECT max({column}) FROM {source._from(described)}{where}"
        highest = source._scalar(self._conn, max_sql, params)
        if highest is not None:
            self._upper = source.to_watermark(request.cursor, highest, cursor)
        if request.lower_bound is None:
            return  # a full read: no WHERE, so rows with a NULL cursor are included
        if highest is None:
            self._empty = True
            return
        # The snapshot already hides later rows; the bound also keeps engines without MVCC honest.
        self._sql += f"{where} AND {column} <= {param}"
        self._params = (*params, highest)

    def batches(self) -> Iterator[Batch]:
        with self._source.driver_errors_as_source_errors():
            yield from self._batches()

    def _batches(self) -> Iterator[Batch]:
        if self._empty:
            return
        source, size = self._source, self._request.batch_size
        if self._request.copy_text:
            chunks = source._stream_copy_text(self._conn, self._columns, self._sql, self._params, size)
            if chunks is not None:
                self._bytes_read = 0
                for chunk in chunks:
                    self._bytes_read += len(chunk.data)
                    yield chunk
                return
        rows = source._stream_rows(self._conn, self._sql, self._params, size)
        fixes = tuple((i, c.convert) for i, c in enumerate(self._columns) if c.convert is not None)
        yield from (_converted(rows, fixes) if fixes else rows)
        self._bytes_read = source._bytes_read(self._conn)

    @property
    def upper_bound(self) -> Watermark | None:
        return self._upper

    @property
    def bytes_read(self) -> int | None:
        return self._bytes_read


def _converted(batches: Iterable[list[tuple]], fixes: tuple[tuple[int, Callable[[Any], Any]], ...]) -> Iterator[list]:
    """Apply the per-column fixes to every non-NULL value of the columns that need one."""
    for rows in batches:
        out = []
        for row in rows:
            values = list(row)
            for i, fix in fixes:
                if values[i] is not None:
                    values[i] = fix(values[i])
            out.append(tuple(values))
        yield out


def as_utc(value: datetime) -> datetime:
    """A naive UTC datetime made aware (MySQL TIMESTAMP read with the session in UTC)."""
    return value.replace(tzinfo=UTC)
