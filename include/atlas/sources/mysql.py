"""MySQL / MariaDB source: MySqlHook (mysqlclient by default), one consistent snapshot per read.

Rows stream unbuffered (``MySQLdb.cursors.SSCursor``; mysql-connector-python's unbuffered cursor when
the connection extra says ``{"client": "mysql-connector-python"}``), ``batch_size`` rows per
``fetchmany``, inside ``START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY`` at REPEATABLE READ.
The session runs in UTC (``time_zone = '+00:00'``) and ``utf8mb4``.

Type mapping (``COLUMN_TYPE`` → :class:`~atlas.schema.Kind`): ``tinyint(1)`` boolean (any non-zero
value is true); ``tinyint``, ``smallint``, ``year`` int16; ``smallint unsigned``, ``mediumint``, ``int``
int32 (``int unsigned`` int64); ``bigint`` int64 and ``bigint unsigned`` decimal(20,0);
``decimal(p,s)``; ``float`` float32, ``double`` float64; ``bit(n)`` int64 (read as ``n + 0``;
``bit(64)`` decimal(20,0)); ``char/varchar/*text``, ``enum``, ``set`` text; ``binary/varbinary/*blob``
binary; ``date``; ``time`` interval (MySQL TIME is a signed duration up to 838:59:59);
``datetime(fsp)`` timestamp (naive, in ``source_timezone``); ``timestamp(fsp)`` timestamptz (an instant);
``json`` json (MariaDB: a ``longtext`` with a ``json_valid`` check); spatial types text (WKT); anything
else text. Zero dates (``0000-00-00``) read as NULL.

COPY text: when the destination takes PostgreSQL COPY text (:attr:`ReadRequest.copy_text`) and every
selected column is of a kind the server renders exactly (see :func:`copy_expression`), one SELECT renders
each row as one COPY line and the bytes go to the destination undecoded. Floats (the server's shortest
text may differ from Python's), TIME, BIT, SET, spatial and unknown types read as tuples instead.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, ClassVar

from atlas.deletes import MYSQL, Dialect
from atlas.schema import Column, ColumnType, Kind
from atlas.sources.base import CopyChunk
from atlas.sources.sql import SourceColumn, SqlSource, TableRef, as_utc

_INTEGERS = {
    # data type: (signed kind, unsigned kind)
    "tinyint": (Kind.INT16, Kind.INT16),
    "smallint": (Kind.INT16, Kind.INT32),
    "mediumint": (Kind.INT32, Kind.INT32),
    "int": (Kind.INT32, Kind.INT64),
    "integer": (Kind.INT32, Kind.INT64),
    "bigint": (Kind.INT64, Kind.DECIMAL),
    "year": (Kind.INT16, Kind.INT16),
}
_PLAIN = {
    "float": Kind.FLOAT32,
    "double": Kind.FLOAT64,
    "real": Kind.FLOAT64,
    "char": Kind.TEXT,
    "varchar": Kind.TEXT,
    "tinytext": Kind.TEXT,
    "text": Kind.TEXT,
    "mediumtext": Kind.TEXT,
    "longtext": Kind.TEXT,
    "enum": Kind.TEXT,
    "binary": Kind.BINARY,
    "varbinary": Kind.BINARY,
    "tinyblob": Kind.BINARY,
    "blob": Kind.BINARY,
    "mediumblob": Kind.BINARY,
    "longblob": Kind.BINARY,
    "date": Kind.DATE,
    "time": Kind.INTERVAL,
    "datetime": Kind.TIMESTAMP,
}
_SPATIAL = {
    "geometry",
    "point",
    "linestring",
    "polygon",
    "multipoint",
    "multilinestring",
    "multipolygon",
    "geometrycollection",
}
_LENGTHS = re.compile(r"\((\d+)(?:,(\d+))?\)")
_JSON_CHECK = re.compile(r"^json_valid\(`((?:[^`]|``)+)`\)$", re.IGNORECASE)

_COLUMNS = """
SELECT COLUMN_NAME, DATA_TYPE, COLUMN_TYPE, IS_NULLABLE FROM information_schema.COLUMNS
WHERE TABLE_SCHEMA = COALESCE(%s, DATABASE()) AND TABLE_NAME = %s ORDER BY ORDINAL_POSITION
"""
_PRIMARY_KEY = """
SELECT COLUMN_NAME FROM information_schema.KEY_COLUMN_USAGE
WHERE TABLE_SCHEMA = COALESCE(%s, DATABASE()) AND TABLE_NAME = %s AND CONSTRAINT_NAME = 'PRIMARY'
ORDER BY ORDINAL_POSITION
"""
# MariaDB's JSON is LONGTEXT plus a json_valid() check named after the column (MySQL 8 has a JSON type).
_MARIADB_JSON = """
SELECT CHECK_CLAUSE FROM information_schema.CHECK_CONSTRAINTS
WHERE CONSTRAINT_SCHEMA = COALESCE(%s, DATABASE()) AND TABLE_NAME = %s
"""
_TABLES = """
SELECT TABLE_NAME FROM information_schema.TABLES
WHERE TABLE_SCHEMA = COALESCE(%s, DATABASE()) AND TABLE_TYPE IN ('BASE TABLE', 'SYSTEM VERSIONED')
ORDER BY TABLE_NAME
"""
_PROBE = "atlas_query_probe"
_DENIED = (1044, 1142, 1227)  # access denied to database / table command / privilege
_HINTS = {
    1044: "the login may not use this database: grant it SELECT, or fix the connection's schema",
    1045: "check the login and password of the Airflow connection",
    1049: "check the database name (the connection's schema field)",
    1142: "grant the login SELECT on the table",
    2002: "check the host and port of the Airflow connection and that the server runs there",
    2003: "check the host and port of the Airflow connection and that the server runs there",
    2005: "check the host of the Airflow connection",
    2013: "the server closed the connection: check host, port and network",
}


# COPY text pieces as hex literals: binary strings, whatever NO_BACKSLASH_ESCAPES says.
_COPY_NULL = "X'5C4E'"  # \N
_COPY_ESCAPES = (("X'5C'", "X'5C5C'"), ("X'09'", "X'5C74'"), ("X'0A'", "X'5C6E'"), ("X'0D'", "X'5C72'"))
_COPY_INTEGERS = (Kind.INT16, Kind.INT32, Kind.INT64, Kind.DECIMAL)
_COPY_TIMES = {
    Kind.DATE: "%Y-%m-%d",
    Kind.TIMESTAMP: "%Y-%m-%d %H:%i:%s.%f",
    Kind.TIMESTAMPTZ: "%Y-%m-%d %H:%i:%s.%f+00",  # the session's time zone is UTC
}
_COPY_ALIAS = "atlas_copy"


def copy_expression(column: SourceColumn, quote: Any) -> str | None:
    """A MySQL expression rendering ``column`` as one PostgreSQL COPY text field (a binary string), for
    the PostgreSQL type its Kind becomes; None when the server's text would not be exactly the value the
    tuple path loads. ``quote`` quotes an identifier."""
    if column.select != "{}":  # read through an expression (BIT, SET, spatial, unknown types)
        return None
    name, kind = quote(column.name), column.kind
    if kind in (Kind.TEXT, Kind.JSON):
        value = f"CAST(CONVERT({name} USING utf8mb4) AS BINARY)"  # the connection's charset, as bytes
        for char, escaped in _COPY_ESCAPES:
            value = f"REPLACE({value}, {char}, {escaped})"
    elif kind == Kind.BOOLEAN:  # any non-zero TINYINT(1) is true
        value = f"IF({name} IS NULL, NULL, IF({name} <> 0, 't', 'f'))"
    elif kind in _COPY_INTEGERS:  # digits, sign and decimal point only
        value = name
    elif kind == Kind.BINARY:
        value = f"CONCAT(X'5C5C78', HEX({name}))"  # \\x + hex: bytea's hex format, escaped for COPY
    elif kind in _COPY_TIMES:
        # Dates Python cannot hold (zero dates, zero parts, year 0, ALLOW_INVALID_DATES days) read as NULL
        # on the tuple path; adding nothing to them is NULL too.
        invalid = f"DATE_ADD({name}, INTERVAL 0 DAY) IS NULL"
        value = f"IF({invalid}, NULL, DATE_FORMAT({name}, '{_COPY_TIMES[kind]}'))"
    else:
        return None
    return f"IFNULL({value}, {_COPY_NULL})"


def _datetime_or_none(text: str) -> datetime | None:
    """MySQLdb's DATETIME/TIMESTAMP decoder in C (its default is pure Python, the slowest step of a
    read); zero dates ('0000-00-00 00:00:00') stay NULL, as with the default."""
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None


def _date_or_none(text: str) -> date | None:
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


def column_for(name: str, nullable: bool, column_type: str, is_json: bool = False) -> SourceColumn:
    """How one MySQL/MariaDB column (its ``COLUMN_TYPE``, e.g. ``bigint(20) unsigned``) is described and read."""
    column_type = column_type.lower()
    data_type = re.split(r"[ (]", column_type, maxsplit=1)[0]
    lengths = _LENGTHS.search(column_type)
    unsigned = " unsigned" in column_type

    def col(
        kind: Kind, select: str = "{}", convert: Any = None, precision: int | None = None, scale: int | None = None
    ) -> SourceColumn:
        return SourceColumn(
            Column(name, ColumnType(kind, precision, scale, source_type=column_type), nullable), select, convert
        )

    if is_json or data_type == "json":
        return col(Kind.JSON, convert=json.loads)
    if data_type == "tinyint" and column_type.startswith("tinyint(1)"):
        return col(Kind.BOOLEAN, convert=bool)
    if data_type in _INTEGERS:
        kind = _INTEGERS[data_type][unsigned]
        return col(kind, convert=Decimal, precision=20, scale=0) if kind == Kind.DECIMAL else col(kind)
    if data_type in ("decimal", "numeric", "dec", "fixed"):
        precision = int(lengths.group(1)) if lengths else 10
        return col(Kind.DECIMAL, precision=precision, scale=int(lengths.group(2) or 0) if lengths else 0)
    if data_type == "bit":
        if lengths and int(lengths.group(1)) == 64:
            return col(Kind.DECIMAL, "({} + 0)", Decimal, precision=20, scale=0)
        return col(Kind.INT64, "({} + 0)")
    if data_type == "timestamp":
        return col(Kind.TIMESTAMPTZ, convert=as_utc)
    if data_type == "set":  # mysql-connector-python would return a Python set
        return col(Kind.TEXT, "CAST({} AS CHAR)")
    if data_type in _SPATIAL:
        return col(Kind.TEXT, "ST_AsText({})")
    if data_type in _PLAIN:
        return col(_PLAIN[data_type])
    return col(Kind.TEXT, "CAST({} AS CHAR)")


class MySqlSource(SqlSource):
    dialect_name: ClassVar[str] = "MySQL"
    key_dialect: ClassVar[Dialect] = MYSQL

    def _connect(self) -> Any:
        from airflow.providers.mysql.hooks.mysql import MySqlHook

        conn = MySqlHook(mysql_conn_id=self.spec.conn_id).get_conn()
        if self._mysqldb(conn):
            from MySQLdb.constants import FIELD_TYPE

            conn.set_character_set("utf8mb4")
            conn.converter.update(
                {
                    FIELD_TYPE.DATETIME: _datetime_or_none,
                    FIELD_TYPE.TIMESTAMP: _datetime_or_none,
                    FIELD_TYPE.DATE: _date_or_none,
                }
            )
        else:
            conn.set_charset_collation("utf8mb4")
        cur = conn.cursor()
        # TIMESTAMP values are instants: read them in UTC. Text in full Unicode (emoji included).
        cur.execute("SET time_zone = '+00:00'")
        cur.close()
        return conn

    @staticmethod
    def _mysqldb(conn: Any) -> bool:
        return type(conn).__module__.startswith("MySQLdb")

    def _quote(self, identifier: str) -> str:
        return "`" + identifier.replace("`", "``") + "`"

    def _begin_snapshot(self, conn: Any) -> None:
        conn.rollback()
        cur = conn.cursor()
        cur.execute("SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        cur.execute("START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY")
        cur.close()

    def _rows(self, conn: Any, sql: str, params: tuple[Any, ...]) -> list[tuple]:
        cur = conn.cursor()
        try:
            cur.execute(sql, params)
            return list(cur.fetchall())
        finally:
            cur.close()

    def _server_version(self, conn: Any) -> str:
        version, database = self._rows(conn, "SELECT VERSION(), DATABASE()", ())[0]
        return f"MySQL {version} database {database!r}"

    def _list_tables(self, conn: Any, schema: str | None) -> list[str]:
        return [row[0] for row in self._rows(conn, _TABLES, (schema,))]

    def _table_columns(self, conn: Any, table: TableRef) -> tuple[list[SourceColumn], tuple[str, ...]] | None:
        key = (table.schema, table.name)
        rows = self._rows(conn, _COLUMNS, key)
        if not rows:
            return None
        json_columns: set[str] = set()
        if "mariadb" in conn.get_server_info().lower():
            for (clause,) in self._rows(conn, _MARIADB_JSON, key):
                match = _JSON_CHECK.match(clause)
                if match:
                    json_columns.add(match.group(1).replace("``", "`"))
        columns = [
            column_for(name, nullable == "YES", column_type, name in json_columns)
            for name, _, column_type, nullable in rows
        ]
        return columns, tuple(row[0] for row in self._rows(conn, _PRIMARY_KEY, key))

    def _query_columns(self, conn: Any, query: str) -> list[SourceColumn]:
        """Describe the query's result as a table: an empty TEMPORARY table built from it (own session only)."""
        cur = conn.cursor()
        try:
            cur.execute(f"DROP TEMPORARY TABLE IF EXISTS {self._quote(_PROBE)}")
            try:
                cur.execute(
                    f"CREATE TEMPORARY TABLE {self._quote(_PROBE)} AS "
                    f"SELECT * FROM ({query.strip().rstrip(';')}) AS q LIMIT 0"
                )
            except self._driver_errors() as exc:
                if self._code(exc) in _DENIED:
                    raise self.error(
                        "config.query",
                        "describing a custom query reads its result types from an empty TEMPORARY table: "
                        "GRANT CREATE TEMPORARY TABLES on the database to the connection's login",
                    ) from exc
                raise
            cur.execute(f"SHOW COLUMNS FROM {self._quote(_PROBE)}")
            described = cur.fetchall()
            cur.execute(f"DROP TEMPORARY TABLE {self._quote(_PROBE)}")
        finally:
            cur.close()
        return [column_for(name, null == "YES", column_type) for name, column_type, null, *_ in described]

    def _stream_rows(self, conn: Any, sql: str, params: tuple[Any, ...], batch_size: int) -> Iterator[list[tuple]]:
        if self._mysqldb(conn):
            from MySQLdb.cursors import SSCursor

            cur = conn.cursor(SSCursor)
        else:
            cur = conn.cursor(buffered=False)
        cur.execute(sql, params)
        while rows := cur.fetchmany(batch_size):
            yield list(rows)
        cur.close()

    def _stream_copy_text(
        self, conn: Any, columns: tuple[SourceColumn, ...], sql: str, params: tuple[Any, ...], batch_size: int
    ) -> Iterator[CopyChunk] | None:
        fields = [copy_expression(column, self._quote) for column in columns]
        if not fields or None in fields:
            return None
        # The row query as a derived table (merged by the optimizer, so it still streams): its WHERE
        # and bound parameters stay exactly those of the tuple path.
        line = self._escape(f"CONCAT_WS(X'09', {', '.join(fields)})")
        copy_sql = f"SELECT {line} FROM ({sql}) AS {self.quoted(_COPY_ALIAS)}"
        return self._copy_chunks(self._stream_rows(conn, copy_sql, params, batch_size))

    @staticmethod
    def _copy_chunks(batches: Iterator[list[tuple]]) -> Iterator[CopyChunk]:
        for rows in batches:
            lines = [row[0] for row in rows]
            lines.append(b"")  # the last line's newline
            yield CopyChunk(b"\n".join(lines))

    def _bytes_read(self, conn: Any) -> int | None:
        return int(self._rows(conn, "SHOW SESSION STATUS LIKE 'Bytes_sent'", ())[0][1])

    def _adapt_param(self, value: Any, column: SourceColumn) -> Any:
        if isinstance(value, datetime) and value.tzinfo is not None:
            return value.astimezone(UTC).replace(tzinfo=None)  # the session's time zone is UTC
        return value

    def _driver_errors(self) -> tuple[type[Exception], ...]:
        errors: list[type[Exception]] = []
        try:
            import MySQLdb

            errors.append(MySQLdb.Error)
        except ImportError:
            pass
        try:
            import mysql.connector

            errors.append(mysql.connector.Error)
        except ImportError:
            pass
        return tuple(errors)

    @staticmethod
    def _code(exc: Exception) -> int | None:
        """The server's error number, from either driver."""
        code = getattr(exc, "errno", None)
        if code is None and exc.args and isinstance(exc.args[0], int):
            code = exc.args[0]
        return code

    def _explain(self, exc: Exception) -> str:
        code = self._code(exc)
        message = getattr(exc, "msg", None) or (exc.args[1] if len(exc.args) > 1 else str(exc))
        hint = _HINTS.get(code)
        return f"{message} ({code}): {hint}" if hint else f"{message}" + (f" ({code})" if code else "")
