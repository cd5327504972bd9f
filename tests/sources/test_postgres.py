"""PostgresSource against the real local PostgreSQL: type mapping with exact round-trips, the COPY
text path against the tuple path, quoting, time zones of timestamptz, and connection messages."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import psycopg
import pytest
from psycopg.types.json import Json, Jsonb

from atlas.exceptions import SourceError
from atlas.models import PostgresConnector, SqlSourceConfig
from atlas.schema import Kind
from atlas.sources.base import CopyChunk, ReadRequest
from atlas.sources.postgres import PostgresSource
from atlas.watermark import Watermark
from tests.sources.conftest import Backend, assert_types, free_port, read_all, rows

TEXT = "tab\there\nnew line\r\\back\\\\slash \"quoted\" 'single' 😀 ünïcødé \\N"
EVERYTHING = """
CREATE TYPE mood AS ENUM ('sad', 'happy');
CREATE DOMAIN price AS numeric(12, 2);
CREATE TABLE everything (
    id integer PRIMARY KEY, b boolean, i2 smallint, i4 integer, i8 bigint,
    n numeric(38, 18), nu numeric, f4 real, f8 double precision,
    t text, vc varchar(20), c char(3), by bytea,
    d date, tm time(6), ts timestamp(6), tstz timestamptz(6), iv interval,
    j json, jb jsonb, u uuid, ai integer[], at text[], e mood, p price, m money, ip inet
)
"""
# column: (kind, source_type, precision, scale)
EXPECTED_TYPES = {
    "id": (Kind.INT32, "integer"),
    "b": (Kind.BOOLEAN, "boolean"),
    "i2": (Kind.INT16, "smallint"),
    "i4": (Kind.INT32, "integer"),
    "i8": (Kind.INT64, "bigint"),
    "n": (Kind.DECIMAL, "numeric(38,18)", 38, 18),
    "nu": (Kind.DECIMAL, "numeric", None, None),
    "f4": (Kind.FLOAT32, "real"),
    "f8": (Kind.FLOAT64, "double precision"),
    "t": (Kind.TEXT, "text"),
    "vc": (Kind.TEXT, "character varying(20)"),
    "c": (Kind.TEXT, "character(3)"),
    "by": (Kind.BINARY, "bytea"),
    "d": (Kind.DATE, "date"),
    "tm": (Kind.TIME, "time(6) without time zone"),
    "ts": (Kind.TIMESTAMP, "timestamp(6) without time zone"),
    "tstz": (Kind.TIMESTAMPTZ, "timestamp(6) with time zone"),
    "iv": (Kind.INTERVAL, "interval"),
    "j": (Kind.JSON, "json"),
    "jb": (Kind.JSON, "jsonb"),
    "u": (Kind.UUID, "uuid"),
    "ai": (Kind.JSON, "integer[]"),
    "at": (Kind.JSON, "text[]"),
    "e": (Kind.TEXT, "mood"),
    "p": (Kind.DECIMAL, "price", 12, 2),
    "m": (Kind.DECIMAL, "money", None, None),
    "ip": (Kind.TEXT, "inet"),
}
DOC = {"a": [1, "x", None], "ü": {"nested": True}, "big": 12345678901234567}
ROW = (
    1, True, -32768, 2147483647, -9223372036854775808,
    Decimal("12345678901234567890.123456789012345678"),
    Decimal("123456789012345678901234567890.000000000000000000000000001"),
    1.5, 0.1, TEXT, "", "ab ", b"\x00\x01\\\xff\n\t",
    date(1999, 12, 31), time(23, 59, 59, 999999), datetime(2026, 3, 1, 12, 0, 0, 123456),
    datetime(2026, 7, 1, 12, 0, 0, 654321, tzinfo=ZoneInfo("Europe/Berlin")),
    timedelta(days=3, seconds=4, microseconds=5),
    DOC, DOC, "5c0e8a3e-7b8f-4a43-9d2a-0a6c7f1e2b3c", [1, None, 3], ["a", "b c", None, "d\"e"],
    "happy", Decimal("9.99"), Decimal("12.34"), "192.168.0.1/24",
)  # fmt: skip


@pytest.fixture
def everything(pg: Backend) -> Backend:
    def wrap(i: int, value: object) -> object:
        return Json(value) if i == 18 else Jsonb(value) if i == 19 else value

    placeholders = ", ".join(["%s"] * len(ROW))
    pg.execute(
        EVERYTHING,
        (f"INSERT INTO everything VALUES ({placeholders})", [tuple(wrap(i, v) for i, v in enumerate(ROW))]),
        "INSERT INTO everything (id, t, vc) VALUES (2, NULL, NULL)",
        "INSERT INTO everything (id, t, vc) VALUES (3, '', '')",
    )
    return pg


def test_catalog_types_map_to_kinds_and_keep_the_source_type(everything: Backend) -> None:
    schema = everything.source({"table": "everything"}).discover("everything")
    assert schema.primary_key == ("id",)
    assert_types(schema, EXPECTED_TYPES)
    assert {c.name: c.type.source_type for c in schema.columns} == {n: e[1] for n, e in EXPECTED_TYPES.items()}


def test_values_round_trip_exactly(everything: Backend) -> None:
    read = rows(everything.source({"table": "everything"}), "everything")
    assert read[0] == ROW
    assert read[0][16] == datetime(2026, 7, 1, 10, 0, 0, 654321, tzinfo=UTC)  # an instant
    assert read[1] == (2, *[None] * (len(ROW) - 1))
    assert (read[2][9], read[2][10]) == ("", "")  # empty strings are not NULL


def test_copy_text_is_the_tuple_stream(everything: Backend) -> None:
    """COPY chunks loaded into a table of the batch types read back as the very same rows."""
    source = everything.source({"table": "everything"})
    chunks, _, bytes_read = read_all(source, "everything", copy_text=True)
    assert all(isinstance(c, CopyChunk) for c in chunks) and sum(map(len, chunks)) == 3
    assert bytes_read == sum(len(c.data) for c in chunks)
    everything.execute(
        "CREATE TABLE copied (LIKE everything)",
        "ALTER TABLE copied ALTER ai TYPE json USING NULL, ALTER at TYPE json USING NULL, "
        "ALTER e TYPE text, ALTER m TYPE numeric, ALTER ip TYPE text",
    )
    with everything.connect() as conn, conn.cursor().copy("COPY copied FROM STDIN") as copy:
        for chunk in chunks:
            copy.write(chunk.data)
    copied = rows(everything.source({"table": "copied"}), "copied")
    assert sorted(copied, key=lambda r: r[0]) == sorted(rows(source, "everything"), key=lambda r: r[0])


def test_copy_chunks_are_bounded_by_batch_size(pg: Backend) -> None:
    pg.execute("CREATE TABLE events AS SELECT g AS id, repeat('x', 50) AS name FROM generate_series(1, 25) g")
    chunks, _, _ = read_all(pg.source(), "events", copy_text=True, batch_size=10)
    assert [len(c) for c in chunks] == [10, 10, 5]
    assert b"".join(c.data for c in chunks).startswith(b"1\t" + b"x" * 50 + b"\n2\t")


def test_timestamptz_cursor_compares_instants_whatever_the_source_timezone(pg: Backend) -> None:
    base = datetime(2026, 7, 1, 10, 0, 0, 1, tzinfo=UTC)
    pg.execute(
        "CREATE TABLE events (id int PRIMARY KEY, updated_at timestamptz)",
        ("INSERT INTO events VALUES (%s, %s)", [(1, base), (2, base + timedelta(microseconds=1))]),
    )
    source = pg.source({"table": "events", "source_timezone": "America/New_York"})
    batches, upper, _ = read_all(
        source,
        "events",
        cursor="updated_at",
        lower_bound=Watermark.of("updated_at", base.astimezone(ZoneInfo("Asia/Tokyo"))),
    )
    assert [r[0] for b in batches for r in b] == [1, 2]
    assert upper == Watermark("updated_at", "timestamp", base + timedelta(microseconds=1))


def test_names_are_quoted_by_psycopg_not_pasted(pg: Backend) -> None:
    """Even a name the connector validation would refuse is only ever an identifier."""
    name, column = 'we"ird %s name', 'col"; DROP TABLE victim; --'
    with pg.connect() as conn:
        conn.execute("CREATE TABLE victim (id int)")
        conn.execute(
            psycopg.sql.SQL("CREATE TABLE {} (id int PRIMARY KEY, {} timestamp)").format(
                psycopg.sql.Identifier(name), psycopg.sql.Identifier(column)
            )
        )
        conn.execute(psycopg.sql.SQL("INSERT INTO {} VALUES (1, now())").format(psycopg.sql.Identifier(name)))
    spec = PostgresConnector.model_construct(
        source_type="postgresql", source_name="shop", conn_id=pg.conn_id, incremental=True,
        timestamp_column=column, config=SqlSourceConfig.model_construct(table=name, columns=["id", column]),
    )  # fmt: skip
    source = PostgresSource(spec)
    since = Watermark.of(column, datetime(2000, 1, 1, tzinfo=UTC))
    batches, upper, _ = read_all(source, name, cursor=column, lower_bound=since)
    assert [r[0] for b in batches for r in b] == [1] and upper is not None
    with pg.connect() as conn:
        assert conn.execute("SELECT count(*) FROM victim").fetchone() == (0,)


def test_schema_qualified_tables_and_schema_selector(pg: Backend) -> None:
    pg.execute(
        "CREATE SCHEMA sales",
        "CREATE TABLE sales.orders (id int PRIMARY KEY)",
        "CREATE TABLE sales.refunds (id int PRIMARY KEY, order_id int)",
        "CREATE TABLE public.orders (other text)",
        "INSERT INTO sales.orders VALUES (7)",
    )
    assert rows(pg.source({"table": "sales.orders"}), "sales.orders") == [(7,)]
    by_schema = pg.source({"schema": "sales"})
    assert by_schema.streams() == ["orders", "refunds"]
    assert rows(by_schema, "orders") == [(7,)]  # sales.orders, not public.orders
    assert pg.source({"table": "orders"}).discover("orders").column_names == ("other",)


def test_test_connection_says_what_to_fix(pg: Backend, airflow_connection) -> None:
    airflow_connection("bad_port", f"postgres://postgres@127.0.0.1:{free_port()}/{pg.database.name}")
    ok, message = pg.source(conn_id="bad_port").test_connection()
    assert not ok and "Connection refused" in message and "host and port" in message, message

    airflow_connection("bad_db", "postgres://postgres@127.0.0.1:5432/atlas_no_such_database")
    ok, message = pg.source(conn_id="bad_db").test_connection()
    assert not ok and "atlas_no_such_database" in message and "database name" in message, message

    pg.execute("CREATE TABLE events (id int)")
    ok, message = pg.source().test_connection()
    assert ok and "PostgreSQL 1" in message and pg.database.name in message, message


def test_a_failing_copy_is_a_source_error(pg: Backend) -> None:
    pg.execute("CREATE TABLE events AS SELECT g AS id FROM generate_series(0, 5) g")
    source = pg.source({"query": "SELECT id, 10 / (id - 3) AS x FROM events"}, target_table="ratios")
    for copy_text in (True, False):
        with pytest.raises(SourceError) as excinfo:
            read_all(source, "ratios", copy_text=copy_text)
        assert "division by zero" in str(excinfo.value) and "'shop'" in str(excinfo.value)


def test_a_copy_abandoned_mid_stream_ends_cleanly(pg: Backend) -> None:
    pg.execute("CREATE TABLE events AS SELECT g AS id FROM generate_series(1, 50000) g")
    source = pg.source()
    with source.read("events", ReadRequest(batch_size=100, copy_text=True)) as read:
        assert len(next(read.batches())) == 100
    assert sum(map(len, read_all(source, "events", copy_text=True)[0])) == 50000


def test_a_money_cursor_compares_as_numeric(pg: Backend) -> None:
    pg.execute(
        "CREATE TABLE ledger (id int PRIMARY KEY, balance money)",
        "INSERT INTO ledger VALUES (1, 10.25), (2, 1000.50)",
    )
    since = Watermark("balance", "decimal", Decimal("10.26"))
    batches, upper, _ = read_all(pg.source({"table": "ledger"}), "ledger", cursor="balance", lower_bound=since)
    assert [r for b in batches for r in b] == [(2, Decimal("1000.50"))]
    assert upper == Watermark("balance", "decimal", Decimal("1000.50"))
