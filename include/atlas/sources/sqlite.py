"""SQLite source: the sqlite provider's SqliteHook (plain DB-API), one read transaction per read.

SQLite stores values dynamically; the declared column type decides the mapping (SQLite's own affinity
rules, plus the usual names): ``*BOOL*`` boolean; ``DATETIME*``/``TIMESTAMP*`` timestamp (ISO text, naive,
in ``source_timezone``); ``DATE*`` date; ``TIME*`` time; ``*INT*`` int64; ``*CHAR*``/``*CLOB*``/``*TEXT*``
text; ``*BLOB*`` binary; ``REAL``/``FLOAT*``/``DOUBLE*`` float64; ``DECIMAL(p,s)``/``NUMERIC(p,s)`` decimal;
``*JSON*`` json; ``*UUID*`` uuid; no or another declared type: text, values as stored.

Timestamp cursors are stored as naive ISO text ('2026-03-01 12:00:00.123456', 'T' or ' ' as separator,
any number of fraction digits) and compared as text with the separator normalised; the bound is written
without trailing fraction zeros, which makes text order agree with time order, microseconds included.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import date, datetime, time
from decimal import Decimal
from pathlib import Path
from typing import Any, ClassVar

from atlas.deletes import SQLITE, Dialect, md5_32
from atlas.schema import Column, ColumnType, Kind
from atlas.sources.sql import SourceColumn, SqlSource, TableRef

_LENGTHS = re.compile(r"\((\d+)(?:\s*,\s*(\d+))?\)")
_PROBE = "atlas_query_probe"


def _iso(parse: Any) -> Any:
    """A converter from ISO text; other stored values (SQLite does not enforce types) pass unchanged."""

    def convert(value: Any) -> Any:
        return parse(value) if isinstance(value, str) else value

    return convert


def _decimal(value: Any) -> Decimal:
    return Decimal(str(value))  # str() first: a REAL's shortest repr, not its binary expansion


_RULES: tuple[tuple[str, Kind, Any], ...] = (
    # (pattern on the upper-cased declared type, kind, converter) — first match wins, as in SQLite
    (r"BOOL", Kind.BOOLEAN, bool),
    (r"^(DATETIME|TIMESTAMP)", Kind.TIMESTAMP, _iso(datetime.fromisoformat)),
    (r"^DATE", Kind.DATE, _iso(date.fromisoformat)),
    (r"^TIME", Kind.TIME, _iso(time.fromisoformat)),
    (r"JSON", Kind.JSON, json.loads),
    (r"UUID", Kind.UUID, None),
    (r"INT", Kind.INT64, None),
    (r"CHAR|CLOB|TEXT", Kind.TEXT, None),
    (r"BLOB", Kind.BINARY, None),
    (r"^(REAL|FLOA|DOUB)", Kind.FLOAT64, None),
    (r"^(DECIMAL|NUMERIC)", Kind.DECIMAL, _decimal),
)


def column_for(name: str, nullable: bool, declared: str) -> SourceColumn:
    """How one SQLite column (its declared type) is described and read."""
    upper = declared.upper()
    for pattern, kind, convert in _RULES:
        if re.search(pattern, upper):
            lengths = _LENGTHS.search(upper) if kind == Kind.DECIMAL else None
            precision = int(lengths.group(1)) if lengths else None
            scale = int(lengths.group(2) or 0) if lengths else None
            return SourceColumn(
                Column(name, ColumnType(kind, precision, scale, source_type=declared), nullable), convert=convert
            )
    return SourceColumn(Column(name, ColumnType(Kind.TEXT, source_type=declared or None), nullable))


class SqliteSource(SqlSource):
    dialect_name: ClassVar[str] = "SQLite"
    placeholder: ClassVar[str] = "?"
    key_dialect: ClassVar[Dialect] = SQLITE
    thread_safe: ClassVar[bool] = False  # sqlite3 refuses a connection opened on another thread

    def _connect(self) -> Any:
        from airflow.providers.sqlite.hooks.sqlite import SqliteHook

        hook = SqliteHook(sqlite_conn_id=self.spec.conn_id)
        path = hook.get_connection(self.spec.conn_id).host
        if not path:
            raise self.error(
                "conn_id",
                "the SQLite connection's host must be the database file path (as a URI: "
                "sqlite://%2Fpath%2Fto%2Fdata.db)",
            )
        # sqlite3 would silently create an empty database for a wrong path.
        if path != ":memory:" and not Path(path).is_file():
            raise self.error(
                "conn_id",
                f"the SQLite database file {path!r} does not exist: fix the connection's host (the file path)",
            )
        conn = hook.get_conn()
        conn.isolation_level = None  # transactions are begun explicitly
        return conn

    def _quote(self, identifier: str) -> str:
        return '"' + identifier.replace('"', '""') + '"'

    def _begin_snapshot(self, conn: Any) -> None:
        # The first SELECT fixes what this read sees (WAL) or holds a shared lock against writers.
        conn.execute("BEGIN")

    def _key_session(self, conn: Any) -> None:
        conn.create_function("atlas_md5_32", 1, md5_32, deterministic=True)

    def _server_version(self, conn: Any) -> str:
        path = conn.execute("SELECT file FROM pragma_database_list WHERE name = 'main'").fetchone()[0]
        return f"SQLite {conn.execute('SELECT sqlite_version()').fetchone()[0]} file {path!r}"

    def _list_tables(self, conn: Any, schema: str | None) -> list[str]:
        master = f"{self._quote(schema or 'main')}.sqlite_master"
        rows = conn.execute(
            f"SELECT name FROM {master} WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name"
        )
        return [row[0] for row in rows]

    def _table_columns(self, conn: Any, table: TableRef) -> tuple[list[SourceColumn], tuple[str, ...]] | None:
        rows = conn.execute(
            'SELECT name, type, "notnull", pk FROM pragma_table_info(?, ?) ORDER BY cid',
            (table.name, table.schema or "main"),
        ).fetchall()
        if not rows:
            return None
        columns = [column_for(name, not (notnull or pk), declared) for name, declared, notnull, pk in rows]
        return columns, tuple(row[0] for row in sorted((r for r in rows if r[3]), key=lambda r: r[3]))

    def _query_columns(self, conn: Any, query: str) -> list[SourceColumn]:
        """A temporary view of the query carries the declared types of the columns it selects."""
        probe = f"temp.{self._quote(_PROBE)}"
        conn.execute(f"DROP VIEW IF EXISTS {probe}")
        conn.execute(f"CREATE TEMP VIEW {self._quote(_PROBE)} AS {query.strip().rstrip(';')}")
        try:
            rows = conn.execute("SELECT name, type FROM pragma_table_info(?, 'temp') ORDER BY cid", (_PROBE,))
            return [column_for(name, True, declared) for name, declared in rows.fetchall()]
        finally:
            conn.execute(f"DROP VIEW {probe}")

    def _stream_rows(self, conn: Any, sql: str, params: tuple[Any, ...], batch_size: int) -> Iterator[list[tuple]]:
        cur = conn.execute(sql, params)
        while rows := cur.fetchmany(batch_size):
            yield rows

    def _cursor_expression(self, expression: str, column: SourceColumn) -> str:
        if column.kind == Kind.TIMESTAMP:
            return f"replace({expression}, 'T', ' ')"
        if column.kind == Kind.DATE:
            return f"date({expression})"
        return expression

    def _adapt_param(self, value: Any, column: SourceColumn) -> Any:
        if isinstance(value, datetime):
            # '12:00:01.5' must not sort after a stored '12:00:01.5' nor before '12:00:01.50'.
            text = value.isoformat(sep=" ")
            return text.rstrip("0") if value.microsecond else text
        return value.isoformat() if isinstance(value, date) else value

    def _driver_errors(self) -> tuple[type[Exception], ...]:
        import sqlite3

        return (sqlite3.Error,)

    def _explain(self, exc: Exception) -> str:
        return str(exc)
