"""MySqlSource against the real local MariaDB: faithful type mapping with exact round-trips, both
drivers MySqlHook can use, quoting, custom-query types, and connection messages."""

from __future__ import annotations

import secrets
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from atlas.models import MySqlConnector, SqlSourceConfig
from atlas.schema import Kind
from atlas.sources.mysql import MySqlSource
from atlas.watermark import Watermark
from tests.conftest import MYSQL_HOST, MYSQL_PORT
from tests.sources.conftest import Backend, assert_types, free_port, read_all, rows

TEXT = "tab\there\nnew line\r\\back\\\\slash \"quoted\" 'single' 😀 ünïcødé \\N"
EVERYTHING = """
CREATE TABLE everything (
    id INT PRIMARY KEY,
    flag TINYINT(1), ti TINYINT, tiu TINYINT UNSIGNED, si SMALLINT, siu SMALLINT UNSIGNED,
    mi MEDIUMINT, miu MEDIUMINT UNSIGNED, i INT, iu INT UNSIGNED, bi BIGINT, biu BIGINT UNSIGNED,
    dc DECIMAL(65, 30), du DECIMAL(10, 2) UNSIGNED, fl FLOAT, db DOUBLE, bt BIT(5), bt64 BIT(64),
    c CHAR(3), vc VARCHAR(100), tx TEXT, lt LONGTEXT, en ENUM('small', 'large'), st SET('a', 'b', 'c'),
    bin BINARY(4), vb VARBINARY(10), bl BLOB, lb LONGBLOB,
    d DATE, tm TIME(6), dt DATETIME(6), dt0 DATETIME, ts TIMESTAMP(6) NULL, y YEAR, j JSON, g POINT
)
"""
# column: (kind, base of COLUMN_TYPE, precision, scale)
EXPECTED_TYPES = {
    "id": (Kind.INT32, "int"),
    "flag": (Kind.BOOLEAN, "tinyint"),
    "ti": (Kind.INT16, "tinyint"),
    "tiu": (Kind.INT16, "tinyint"),
    "si": (Kind.INT16, "smallint"),
    "siu": (Kind.INT32, "smallint"),
    "mi": (Kind.INT32, "mediumint"),
    "miu": (Kind.INT32, "mediumint"),
    "i": (Kind.INT32, "int"),
    "iu": (Kind.INT64, "int"),
    "bi": (Kind.INT64, "bigint"),
    "biu": (Kind.DECIMAL, "bigint", 20, 0),
    "dc": (Kind.DECIMAL, "decimal", 65, 30),
    "du": (Kind.DECIMAL, "decimal", 10, 2),
    "fl": (Kind.FLOAT32, "float"),
    "db": (Kind.FLOAT64, "double"),
    "bt": (Kind.INT64, "bit"),
    "bt64": (Kind.DECIMAL, "bit", 20, 0),
    "c": (Kind.TEXT, "char"),
    "vc": (Kind.TEXT, "varchar"),
    "tx": (Kind.TEXT, "text"),
    "lt": (Kind.TEXT, "longtext"),
    "en": (Kind.TEXT, "enum"),
    "st": (Kind.TEXT, "set"),
    "bin": (Kind.BINARY, "binary"),
    "vb": (Kind.BINARY, "varbinary"),
    "bl": (Kind.BINARY, "blob"),
    "lb": (Kind.BINARY, "longblob"),
    "d": (Kind.DATE, "date"),
    "tm": (Kind.INTERVAL, "time"),
    "dt": (Kind.TIMESTAMP, "datetime"),
    "dt0": (Kind.TIMESTAMP, "datetime"),
    "ts": (Kind.TIMESTAMPTZ, "timestamp"),
    "y": (Kind.INT16, "year"),
    "j": (Kind.JSON, "longtext"),  # MariaDB: JSON is LONGTEXT CHECK (json_valid(j))
    "g": (Kind.TEXT, "point"),
}
DOC = {"a": [1, "ü", None], "nested": {"ok": True}, "big": 12345678901234567}
ROW = (
    1, True, -128, 255, -32768, 65535, -8388608, 16777215, -2147483648, 4294967295,
    -9223372036854775808, Decimal("18446744073709551615"),
    Decimal("12345678901234567890123456789012345.123456789012345678901234567890"), Decimal("99999999.99"),
    1.5, 0.1, 5, Decimal("18446744073709551615"),
    "ab", TEXT, "", "x" * 70_000, "large", "a,c",
    b"\x00\x01\x00\x00", b"\x00\xff\\\n", b"\x00" * 3 + "😀".encode(), b"\xff" * 100_000,
    date(1999, 12, 31), timedelta(hours=-838, microseconds=-5), datetime(2026, 3, 1, 12, 0, 0, 123456),
    datetime(2026, 3, 1, 12, 0, 1), datetime(2026, 7, 1, 10, 0, 0, 654321, tzinfo=UTC), 2155, DOC, "POINT(1 2)",
)  # fmt: skip
INSERT = (
    "INSERT INTO everything VALUES (1, 1, -128, 255, -32768, 65535, -8388608, 16777215, -2147483648, 4294967295, "
    "-9223372036854775808, 18446744073709551615, %s, 99999999.99, 1.5, 0.1, b'101', 18446744073709551615, "
    "'ab', %s, '', REPEAT('x', 70000), 'large', 'c,a', x'0001', %s, %s, %s, '1999-12-31', '-838:00:00.000005', "
    "'2026-03-01 12:00:00.123456', '2026-03-01 12:00:01', '2026-07-01 10:00:00.654321', 2155, %s, "
    "ST_GeomFromText('POINT(1 2)'))"
)


@pytest.fixture
def everything(mysql: Backend) -> Backend:
    import json

    mysql.execute(
        EVERYTHING,
        "SET time_zone = '+00:00'",
        (INSERT, (ROW[12], TEXT, ROW[25], ROW[26], ROW[27], json.dumps(DOC))),
        "INSERT INTO everything (id, flag, tx) VALUES (2, 0, NULL)",
    )
    return mysql


def test_catalog_types_map_to_kinds_and_keep_the_source_type(everything: Backend) -> None:
    schema = everything.source({"table": "everything"}).discover("everything")
    assert_types(schema, EXPECTED_TYPES)
    assert schema.column("biu").type.source_type.endswith("unsigned")


def test_values_round_trip_exactly(everything: Backend) -> None:
    read = rows(everything.source({"table": "everything"}), "everything")
    assert read[0] == ROW
    assert read[1] == (2, False, *[None] * (len(ROW) - 2))


def test_the_mysql_connector_python_driver_reads_the_same_rows(everything: Backend, airflow_connection) -> None:
    airflow_connection(
        "connector_driver",
        f"mysql://root@{MYSQL_HOST}:{MYSQL_PORT}/{everything.database.name}?client=mysql-connector-python",
    )
    source = everything.source({"table": "everything"}, conn_id="connector_driver")
    assert rows(source, "everything", batch_size=1) == rows(everything.source({"table": "everything"}), "everything")


def test_timestamp_columns_are_instants_and_datetime_columns_wall_clock(mysql: Backend) -> None:
    mysql.execute(
        "CREATE TABLE events (id INT PRIMARY KEY, ts TIMESTAMP(6) NULL, dt DATETIME(6))",
        "SET time_zone = '+00:00'",
        "INSERT INTO events VALUES (1, '2026-07-01 10:00:00.000001', '2026-07-01 10:00:00.000001')",
        "INSERT INTO events VALUES (2, '2026-07-01 10:00:00.000002', '2026-07-01 10:00:00.000002')",
    )
    source = mysql.source({"table": "events", "source_timezone": "Asia/Tokyo"})
    since = Watermark.of("ts", datetime(2026, 7, 1, 10, 0, 0, 2, tzinfo=UTC))
    batches, upper, bytes_read = read_all(source, "events", cursor="ts", lower_bound=since)
    assert [r[0] for b in batches for r in b] == [2] and upper == since
    assert bytes_read and bytes_read > 0
    # DATETIME is wall-clock time in Tokyo (UTC+9): 10:00 local is 01:00 UTC.
    _, upper, _ = read_all(source, "events", cursor="dt")
    assert upper == Watermark.of("dt", datetime(2026, 7, 1, 1, 0, 0, 2, tzinfo=UTC))


def test_custom_query_types_come_from_the_result(mysql: Backend) -> None:
    mysql.execute(
        "CREATE TABLE items (id BIGINT UNSIGNED PRIMARY KEY, price DECIMAL(8, 3), at DATETIME(3), blob_ BLOB)",
        "INSERT INTO items VALUES (18446744073709551615, 1.25, '2026-01-01 00:00:00.5', x'00')",
    )
    source = mysql.source(
        {"query": "SELECT id, price * 2 AS doubled, at, blob_ FROM items", "primary_key": ["id"]},
        target_table="priced",
    )
    schema = source.discover("priced")
    kinds = {c.name: (c.type.kind, c.type.precision, c.type.scale) for c in schema.columns}
    assert kinds["id"] == (Kind.DECIMAL, 20, 0) and kinds["doubled"][0] == Kind.DECIMAL
    assert kinds["at"][0] == Kind.TIMESTAMP and kinds["blob_"][0] == Kind.BINARY
    assert rows(source, "priced") == [
        (Decimal("18446744073709551615"), Decimal("2.500"), datetime(2026, 1, 1, 0, 0, 0, 500000), b"\x00")
    ]


def test_names_are_quoted_with_backticks_not_pasted(mysql: Backend) -> None:
    name, column = "we`ird %s name", "col`; DROP TABLE victim; --"
    quoted_name, quoted_column = (f"`{n.replace('`', '``')}`" for n in (name, column))
    mysql.execute(
        "CREATE TABLE victim (id INT)",
        f"CREATE TABLE {quoted_name} (id INT PRIMARY KEY, {quoted_column} INT)",
        f"INSERT INTO {quoted_name} VALUES (1, 10), (2, 20)",
    )
    spec = MySqlConnector.model_construct(
        source_type="mysql", source_name="shop", conn_id=mysql.conn_id, incremental=True,
        timestamp_column=column, config=SqlSourceConfig.model_construct(table=name, columns=["id", column]),
    )  # fmt: skip
    batches, upper, _ = read_all(MySqlSource(spec), name, cursor=column, lower_bound=Watermark.of(column, 15))
    assert [r for b in batches for r in b] == [(2, 20)] and upper == Watermark(column, "integer", 20)
    conn = mysql.connect()
    try:
        cur = conn.cursor()
        cur.execute("SELECT count(*) FROM victim")
        assert cur.fetchone() == (0,)
    finally:
        conn.close()


@pytest.fixture
def mysql_user(mysql: Backend):
    """A login with a password, allowed to read the test database only."""
    user, password = f"atlas_{secrets.token_hex(4)}", secrets.token_urlsafe(12)
    mysql.execute(
        (f"CREATE USER '{user}'@'%%' IDENTIFIED BY %s", (password,)),
        f"GRANT SELECT ON `{mysql.database.name}`.* TO '{user}'@'%'",
    )
    yield user, password
    mysql.execute(f"DROP USER '{user}'@'%'")


def test_test_connection_says_what_to_fix(mysql: Backend, mysql_user, airflow_connection) -> None:
    user, password = mysql_user
    db = mysql.database.name
    mysql.execute("CREATE TABLE events (id INT)")

    airflow_connection("good_login", f"mysql://{user}:{password}@{MYSQL_HOST}:{MYSQL_PORT}/{db}")
    ok, message = mysql.source(conn_id="good_login").test_connection()
    assert ok and "events" in message, message

    airflow_connection("bad_password", f"mysql://{user}:not-{password}@{MYSQL_HOST}:{MYSQL_PORT}/{db}")
    ok, message = mysql.source(conn_id="bad_password").test_connection()
    assert not ok and "Access denied" in message and "login and password" in message, message
    assert password not in message

    airflow_connection("bad_port", f"mysql://root@{MYSQL_HOST}:{free_port()}/{db}")
    ok, message = mysql.source(conn_id="bad_port").test_connection()
    assert not ok and "host and port" in message, message

    airflow_connection("bad_db", f"mysql://root@{MYSQL_HOST}:{MYSQL_PORT}/atlas_no_such_database")
    ok, message = mysql.source(conn_id="bad_db").test_connection()
    assert not ok and "atlas_no_such_database" in message and "database name" in message, message

    airflow_connection("select_only", f"mysql://{user}:{password}@{MYSQL_HOST}:{MYSQL_PORT}/{db}")
    ok, message = mysql.source(
        {"query": "SELECT id FROM events"}, conn_id="select_only", target_table="q"
    ).test_connection()
    assert not ok and "config.query" in message and "CREATE TEMPORARY TABLES" in message, message


def test_zero_dates_read_as_null(mysql: Backend) -> None:
    mysql.execute(
        "CREATE TABLE legacy (id INT PRIMARY KEY, d DATE, dt DATETIME(3), ts TIMESTAMP NULL)",
        "SET sql_mode = ''",
        "INSERT INTO legacy VALUES (1, '0000-00-00', '0000-00-00 00:00:00', '0000-00-00 00:00:00')",
        "INSERT INTO legacy VALUES (2, '2026-02-03', '2026-02-03 04:05:06.7', NULL)",
    )
    assert rows(mysql.source({"table": "legacy"}), "legacy") == [
        (1, None, None, None),
        (2, date(2026, 2, 3), datetime(2026, 2, 3, 4, 5, 6, 700000), None),
    ]


def test_cursors_read_through_an_expression_compare_as_read(mysql: Backend) -> None:
    mysql.execute(
        "CREATE TABLE flags (id BIGINT UNSIGNED PRIMARY KEY, version BIT(16))",
        "INSERT INTO flags VALUES (18446744073709551614, b'1'), (18446744073709551615, b'100000000')",
    )
    source = mysql.source({"table": "flags"})
    batches, upper, _ = read_all(source, "flags", cursor="version", lower_bound=Watermark.of("version", 2))
    assert [r for b in batches for r in b] == [(Decimal("18446744073709551615"), 256)]
    assert upper == Watermark("version", "integer", 256)
    _, upper, _ = read_all(source, "flags", cursor="id")
    assert upper == Watermark("id", "integer", 18446744073709551615)


COPYABLE = """
CREATE TABLE copyable (
    id INT PRIMARY KEY, flag TINYINT(1), ti TINYINT, siu SMALLINT UNSIGNED, iu INT UNSIGNED, bi BIGINT,
    biu BIGINT UNSIGNED, dc DECIMAL(38, 10), y YEAR, c CHAR(3), vc VARCHAR(100), tx TEXT,
    l1 VARCHAR(20) CHARACTER SET latin1, en ENUM('small', 'large'), bin BINARY(4), vb VARBINARY(10), bl BLOB,
    d DATE, dt DATETIME(6), dt0 DATETIME,
    ts TIMESTAMP(6) NULL, j JSON
)
"""
COPY_ROWS = (
    "INSERT INTO copyable VALUES (1, 7, -128, 65535, 4294967295, -9223372036854775808, 18446744073709551615, "
    "-1234567890123456789012345678.0123456789, 2155, 'ab', %s, %s, 'çà\\\\', 'large', x'00010000', x'005C0A', "
    "x'00000009FF0D0A5C', '0001-01-01', '2026-03-01 12:00:00.123456', '9999-12-31 23:59:59', "
    "'2026-07-01 10:00:00.000001', %s)",
    "INSERT INTO copyable (id, flag) VALUES (2, NULL)",
    "INSERT INTO copyable VALUES (3, 0, 0, 0, 0, 0, 0, 0, 1901, '', '', '\\\\N', '', 'small', x'', x'', x'', "
    "'1999-12-31', '1970-01-01 00:00:00', '2000-02-29 00:00:00', '1970-01-01 00:00:01', '[]')",
    "INSERT INTO copyable (id, d, dt, ts) VALUES (4, '0000-00-00', '2026-00-10 00:00:00', '0000-00-00 00:00:00')",
    "SET sql_mode = 'ALLOW_INVALID_DATES'",
    "INSERT INTO copyable (id, d, dt, dt0) VALUES (5, '2026-02-30', '2026-02-30 10:00:00', '0000-01-01 00:00:00')",
)
JSON_DOC = '{"t": "tab\\t \\"q\\" \\\\ \\u00fc 😀", "n": [1.5, 12345678901234567890, null], "b": true}'


def test_copy_text_loads_the_same_table_as_tuples(mysql: Backend, pg_database, airflow_connection) -> None:
    """COPY chunks rendered by MariaDB load into PostgreSQL exactly what the tuple path loads."""
    from atlas.destinations.base import LoadMode
    from atlas.destinations.postgres import PostgresDestination
    from atlas.sources.base import CopyChunk, ReadRequest

    mysql.execute(
        "SET sql_mode = ''",
        COPYABLE,
        "SET time_zone = '+00:00'",
        (COPY_ROWS[0], ("q\"u'o\\te\ttab\r\nCRLF \\N 😀 ünï", TEXT, JSON_DOC)),
        *COPY_ROWS[1:],
    )
    source = mysql.source({"table": "copyable"})
    chunks, _, bytes_read = read_all(source, "copyable", copy_text=True, batch_size=3)
    assert all(isinstance(c, CopyChunk) for c in chunks) and [len(c) for c in chunks] == [3, 2]
    assert bytes_read == sum(len(c.data) for c in chunks)
    airflow_connection("copy_warehouse", pg_database.airflow_uri)
    warehouse = PostgresDestination("copy_warehouse")
    schema = source.discover("copyable")
    tables = []
    for name, copy_text in (("public.by_tuples", False), ("public.by_copy", True)):
        with source.read("copyable", ReadRequest(copy_text=copy_text)) as read:
            warehouse.load(warehouse.target(name, "shop", "copyable"), schema, read.batches(), LoadMode.REPLACE)
        with pg_database.connect() as conn:
            # the source's columns, not the load's bookkeeping (e.g. when a row was synced)
            width = len(schema.columns)
            tables.append([row[:width] for row in conn.execute(f"SELECT * FROM {name} ORDER BY id")])
    for by_tuples, by_copy in zip(*tables, strict=True):
        assert by_copy == by_tuples, [(a, b) for a, b in zip(by_tuples, by_copy, strict=True) if a != b]
    assert len(tables[0]) == 5
    first = tables[1][0]
    assert first[1] is True and first[6] == Decimal("18446744073709551615")
    assert first[16] == b"\x00\x00\x00\x09\xff\r\n\\"
    assert tables[1][2][11] == "\\N" and tables[1][2][10] == "" and tables[1][1][10] is None
    # zero and impossible dates read as NULL on both paths
    assert tables[1][3][17:21] == tables[1][4][17:21] == (None, None, None, None)


def test_a_double_column_falls_back_to_tuples(mysql: Backend) -> None:
    mysql.execute("CREATE TABLE ratios (id INT PRIMARY KEY, r DOUBLE)", "INSERT INTO ratios VALUES (1, 0.1)")
    batches, _, _ = read_all(mysql.source({"table": "ratios"}), "ratios", copy_text=True)
    assert batches == [[(1, 0.1)]]
