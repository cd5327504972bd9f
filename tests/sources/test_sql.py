"""Behaviour every SQL source shares, run against PostgreSQL, MariaDB and SQLite: streams, cursor
bounds (ties, NULLs, time zones), batches, the snapshot, and bad input naming connector and field."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import psutil
import pytest

from atlas.exceptions import SourceError
from atlas.schema import Kind
from atlas.sources.base import ReadRequest
from atlas.watermark import Watermark
from tests.sources.conftest import Backend, read_all, rows

T0 = datetime(2026, 3, 1, 12, 0, 0, 123456)
INCREMENTAL = {"incremental": True, "timestamp_column": "updated_at"}


def create_events(backend: Backend, events: list[tuple]) -> None:
    ph = backend.placeholder
    backend.execute(
        f"CREATE TABLE events (id INTEGER PRIMARY KEY, name VARCHAR(50), updated_at {backend.timestamp_type})",
        (f"INSERT INTO events VALUES ({ph}, {ph}, {ph})", events),
    )


def ids(batches: list) -> list[int]:
    return sorted(row[0] for batch in batches for row in batch)


def test_full_read_includes_null_cursor_rows_and_incremental_excludes_them(backend: Backend) -> None:
    create_events(backend, [(1, "a", T0), (2, "no cursor", None), (3, "b", T0 + timedelta(seconds=1))])
    source = backend.source(**INCREMENTAL)

    batches, upper, _ = read_all(source, "events", cursor="updated_at")
    assert ids(batches) == [1, 2, 3]
    assert upper == Watermark("updated_at", "timestamp", (T0 + timedelta(seconds=1)).replace(tzinfo=UTC))

    batches, _, _ = read_all(source, "events", cursor="updated_at", lower_bound=Watermark.of("updated_at", T0))
    assert ids(batches) == [1, 3]


def test_rows_tied_with_the_watermark_are_read_again(backend: Backend) -> None:
    tied = T0 + timedelta(seconds=5)
    create_events(backend, [(1, "old", T0), (2, "tie", tied), (3, "tie too", tied)])
    source = backend.source(**INCREMENTAL)

    batches, upper, _ = read_all(
        source, "events", cursor="updated_at", lower_bound=Watermark.of("updated_at", tied.replace(tzinfo=UTC))
    )
    assert ids(batches) == [2, 3]
    assert upper == Watermark.of("updated_at", tied.replace(tzinfo=UTC))


def test_naive_timestamps_are_read_in_the_source_timezone(backend: Backend) -> None:
    # Berlin is UTC+1 on 2026-03-01: local 12:00 is 11:00 UTC, local 13:00 is 12:00 UTC.
    local_noon = datetime(2026, 3, 1, 12, 0, 0, 654321)
    create_events(backend, [(1, "noon", local_noon), (2, "one", local_noon + timedelta(hours=1))])
    source = backend.source(
        {"table": "events", "source_timezone": "Europe/Berlin"}, incremental=True, timestamp_column="updated_at"
    )

    _, upper, _ = read_all(source, "events", cursor="updated_at")
    assert upper == Watermark("updated_at", "timestamp", datetime(2026, 3, 1, 12, 0, 0, 654321, tzinfo=UTC))

    since_noon_utc = Watermark.of("updated_at", datetime(2026, 3, 1, 12, 0, 0, 654321, tzinfo=UTC))
    batches, _, _ = read_all(source, "events", cursor="updated_at", lower_bound=since_noon_utc)
    assert ids(batches) == [2]  # 13:00 local is the watermark itself: inclusive; 12:00 local is before it
    # The rows themselves keep their wall-clock value.
    assert rows(source, "events")[0][2] in (local_noon, local_noon + timedelta(hours=1))


def test_integer_cursor(backend: Backend) -> None:
    create_events(backend, [(i, f"e{i}", None) for i in range(1, 8)])
    source = backend.source(incremental=True, timestamp_column="id")

    batches, upper, _ = read_all(source, "events", cursor="id", lower_bound=Watermark.of("id", 5))
    assert ids(batches) == [5, 6, 7]
    assert upper == Watermark("id", "integer", 7)

    batches, upper, _ = read_all(source, "events", cursor="id", lower_bound=Watermark.of("id", 8))
    assert batches == [] and upper is None


def test_date_cursor_bounds_by_calendar_date(backend: Backend) -> None:
    backend.execute(
        "CREATE TABLE days (id INTEGER PRIMARY KEY, day DATE)",
        (f"INSERT INTO days VALUES ({backend.placeholder}, {backend.placeholder})",
         [(1, date(2026, 2, 28)), (2, date(2026, 3, 1)), (3, date(2026, 3, 2))]),
    )  # fmt: skip
    source = backend.source({"table": "days", "source_timezone": "America/New_York"})
    batches, upper, _ = read_all(source, "days", cursor="day", lower_bound=Watermark.of("day", date(2026, 3, 1)))
    assert ids(batches) == [2, 3]
    assert upper == Watermark("day", "date", date(2026, 3, 2))


def test_batches_are_bounded_by_batch_size(backend: Backend) -> None:
    create_events(backend, [(i, "x" * 40, T0) for i in range(1, 26)])
    batches, _, _ = read_all(backend.source(), "events", batch_size=10)
    assert [len(b) for b in batches] == [10, 10, 5]
    assert ids(batches) == list(range(1, 26))


def test_selected_columns_come_in_the_configured_order(backend: Backend) -> None:
    create_events(backend, [(1, "a", T0)])
    source = backend.source({"table": "events", "columns": ["updated_at", "id"]})
    assert source.discover("events").column_names == ("updated_at", "id")
    assert rows(source, "events") == [(T0, 1)]


def test_primary_keys_single_composite_and_none(backend: Backend) -> None:
    backend.execute(
        "CREATE TABLE order_lines (order_id INTEGER NOT NULL, line_no INTEGER NOT NULL, sku VARCHAR(10), "
        "PRIMARY KEY (order_id, line_no))",
        "CREATE TABLE log (at INTEGER, message VARCHAR(10))",
    )
    source = backend.source({"tables": ["order_lines", "log"]})
    lines = source.discover("order_lines")
    assert lines.primary_key == ("order_id", "line_no")
    assert not lines.column("order_id").nullable and lines.column("sku").nullable
    assert source.discover("log").primary_key == ()
    assert backend.source({"table": "log", "primary_key": ["at"]}).discover("log").primary_key == ("at",)


def test_streams_for_each_selector(backend: Backend) -> None:
    create_events(backend, [])
    backend.execute("CREATE TABLE orders (id INTEGER PRIMARY KEY)", "CREATE VIEW recent AS SELECT id FROM orders")
    schema = {"postgresql": "public", "mysql": getattr(backend.database, "name", None), "sqlite": "main"}
    assert backend.source({"table": "events"}).streams() == ["events"]
    assert backend.source({"tables": ["orders", "events"]}).streams() == ["orders", "events"]
    by_schema = backend.source({"schema": schema[backend.source_type]})
    assert by_schema.streams() == ["events", "orders"]  # base tables only, not the view
    assert by_schema.discover("orders").column_names == ("id",)
    query = backend.source({"query": "SELECT id FROM orders"}, target_table="analytics.order_ids")
    assert query.streams() == ["order_ids"]


def test_query_stream_reads_incrementally_and_keeps_percent_signs(backend: Backend) -> None:
    create_events(backend, [(1, "a%b", T0), (2, "ab", T0), (3, "a%c", T0), (4, "x%", T0)])
    source = backend.source(
        {"query": "SELECT id, name FROM events WHERE name LIKE 'a%'", "primary_key": ["id"]},
        target_table="raw.a_events",
        incremental=True,
        timestamp_column="id",
    )
    schema = source.discover("a_events")
    assert schema.column_names == ("id", "name") and schema.primary_key == ("id",)
    assert schema.column("name").type.kind == Kind.TEXT
    batches, upper, _ = read_all(source, "a_events", cursor="id", lower_bound=Watermark.of("id", 2))
    assert [row for batch in batches for row in batch] == [(2, "ab"), (3, "a%c")]
    assert upper == Watermark("id", "integer", 3)


def test_the_snapshot_hides_rows_committed_during_the_read(server_backend: Backend) -> None:
    backend = server_backend
    create_events(backend, [(i, f"e{i}", T0 + timedelta(seconds=i)) for i in range(1, 21)])
    source = backend.source(**INCREMENTAL)
    writer = backend.connect()
    ph = backend.placeholder
    try:
        with source.read("events", ReadRequest(cursor="updated_at", batch_size=5)) as read:
            batches = read.batches()
            writer.cursor().execute(f"INSERT INTO events VALUES (100, 'during', {ph})", (T0 + timedelta(hours=1),))
            first = next(batches)
            writer.cursor().execute(f"INSERT INTO events VALUES (101, 'later', {ph})", (T0 + timedelta(hours=2),))
            seen = [first, *batches]
            upper = read.upper_bound
    finally:
        writer.close()
    assert ids(seen) == list(range(1, 21))
    assert upper == Watermark.of("updated_at", (T0 + timedelta(seconds=20)).replace(tzinfo=UTC))
    assert ids(read_all(source, "events")[0]) == [*range(1, 21), 100, 101]  # committed: the next run sees them


# ------------------------------------------------------------------------------------ bad input
def assert_rejected(excinfo: pytest.ExceptionInfo, field: str, *words: str) -> None:
    message = str(excinfo.value)
    assert "'shop'" in message and f"{field}:" in message, message
    for word in words:
        assert word in message, message


def test_unknown_table_names_connector_and_field(backend: Backend) -> None:
    create_events(backend, [])
    with pytest.raises(SourceError) as excinfo:
        backend.source({"table": "evnts"}).discover("evnts")
    assert_rejected(excinfo, "config.table", "evnts")
    with pytest.raises(SourceError) as excinfo:
        backend.source({"tables": ["events", "nope"]}).read("nope", ReadRequest()).__enter__()
    assert_rejected(excinfo, "config.tables", "nope")


def test_unknown_columns_and_primary_key_name_their_field(backend: Backend) -> None:
    create_events(backend, [(1, "a", T0)])
    with pytest.raises(SourceError) as excinfo:
        backend.source({"table": "events", "columns": ["id", "colour"]}).discover("events")
    assert_rejected(excinfo, "config.columns", "colour")
    with pytest.raises(SourceError) as excinfo:
        backend.source({"table": "events", "columns": ["name"]}).discover("events")
    assert_rejected(excinfo, "config.columns", "primary key", "id")
    with pytest.raises(SourceError) as excinfo:
        backend.source({"table": "events", "primary_key": ["ident"]}).discover("events")
    assert_rejected(excinfo, "config.primary_key", "ident")


def test_bad_cursor_columns_name_timestamp_column(backend: Backend) -> None:
    create_events(backend, [(1, "a", T0)])
    with pytest.raises(SourceError) as excinfo:
        rows(backend.source(incremental=True, timestamp_column="changed_at"), "events", cursor="changed_at")
    assert_rejected(excinfo, "timestamp_column", "changed_at")
    with pytest.raises(SourceError) as excinfo:
        rows(backend.source(incremental=True, timestamp_column="name"), "events", cursor="name")
    assert_rejected(excinfo, "timestamp_column", "name", "text")
    with pytest.raises(SourceError) as excinfo:
        rows(backend.source(**INCREMENTAL), "events", cursor="updated_at", lower_bound=Watermark.of("updated_at", 7))
    assert_rejected(excinfo, "timestamp_column", "full refresh")


@pytest.mark.parametrize(
    "config, field",
    [
        ({"table": "events WHERE 1=1 OR id"}, "config.table"),
        ({"table": "events", "columns": ["id", "name FROM events --"]}, "config.columns"),
        ({"table": "events", "columns": ["id", "(SELECT 1)"]}, "config.columns"),
    ],
)
def test_sql_in_identifiers_is_rejected_before_anything_runs(backend: Backend, config: dict, field: str) -> None:
    create_events(backend, [(1, "a", T0)])
    with pytest.raises(SourceError) as excinfo:
        rows(backend.source(config), "events WHERE 1=1 OR id" if field == "config.table" else "events")
    assert_rejected(excinfo, field)
    with pytest.raises(SourceError) as excinfo:
        rows(backend.source(incremental=True, timestamp_column="id) OR (1=1"), "events", cursor="id) OR (1=1")
    assert_rejected(excinfo, "timestamp_column")
    assert rows(backend.source(), "events") == [(1, "a", T0)]


def test_test_connection_reports_success_and_missing_tables(backend: Backend) -> None:
    create_events(backend, [])
    ok, message = backend.source().test_connection()
    assert ok and "events" in message, message
    ok, message = backend.source({"tables": ["events", "ghost"]}).test_connection()
    assert not ok and "config.tables" in message and "ghost" in message, message
    ok, message = backend.source(incremental=True, timestamp_column="changed_at").test_connection()
    assert not ok and "timestamp_column" in message and "changed_at" in message, message
    ok, message = backend.source({"query": "SELECT id FROM events"}, target_table="ids").test_connection()
    assert ok and "ids" in message, message


def test_test_connection_with_an_undefined_airflow_connection(backend: Backend) -> None:
    ok, message = backend.source(conn_id="no_such_conn").test_connection()
    assert not ok and "'no_such_conn'" in message and "not defined" in message, message


def test_a_read_abandoned_mid_stream_ends_cleanly(backend: Backend) -> None:
    create_events(backend, [(i, "x" * 50, T0) for i in range(1, 101)])
    source = backend.source()
    with source.read("events", ReadRequest(batch_size=10)) as read:
        assert len(next(read.batches())) == 10  # the consumer stops here, e.g. the load failed
    assert len(rows(source, "events")) == 100  # the server and the next read are unaffected


def test_errors_of_the_caller_inside_the_read_are_not_blamed_on_the_source(backend: Backend) -> None:
    create_events(backend, [(1, "a", T0)])
    with pytest.raises(ZeroDivisionError), backend.source().read("events", ReadRequest()) as read:
        next(read.batches())
        raise ZeroDivisionError  # what a destination might raise: it must surface unchanged


@pytest.mark.parametrize("copy_text", [False, True], ids=["tuples", "copy_text"])
def test_memory_stays_bounded_by_the_batch_not_the_table(server_backend: Backend, copy_text: bool) -> None:
    """~75 MB of rows read 1,000 at a time: the process grows by a batch, not by the table."""
    backend = server_backend
    series = "generate_series(1, 250000) AS g" if backend.source_type == "postgresql" else "seq_1_to_250000"
    number = "g" if backend.source_type == "postgresql" else "seq"
    backend.execute(f"CREATE TABLE wide AS SELECT {number} AS id, REPEAT('x', 300) AS payload FROM {series}")
    source = backend.source({"table": "wide"})
    with source.read("wide", ReadRequest(batch_size=10, copy_text=copy_text)) as read:
        next(read.batches())  # drivers, hooks and caches warmed up
    process, count = psutil.Process(), 0
    with source.read("wide", ReadRequest(batch_size=1000, copy_text=copy_text)) as read:
        baseline = peak = process.memory_info().rss
        for batch in read.batches():
            count += len(batch)
            peak = max(peak, process.memory_info().rss)
    assert count == 250_000
    assert peak - baseline < 40 * 2**20, f"grew by {(peak - baseline) / 2**20:.0f} MiB"
