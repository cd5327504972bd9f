"""RestApiSource against a real local HTTP server: pagination, stop conditions, loop guard, schema,
incremental parameters and bad input, through the Airflow HTTP connection."""

from __future__ import annotations

import json
import logging
import secrets
import time
from datetime import UTC, datetime
from typing import Any

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Response

from atlas.exceptions import SourceError
from atlas.models import RestApiConnector, parse_spec
from atlas.schema import Kind
from atlas.sources import build_source
from atlas.sources.base import ReadRequest
from atlas.sources.rest_api import RestApiSource, format_watermark, stream_name
from atlas.watermark import Watermark
from tests.destinations.destination_helpers import destination, pg_destination, rows_of, sqlite_destination
from tests.http.fake_api import FakeApi, make_record

__all__ = ["destination", "pg_destination", "sqlite_destination"]  # warehouse fixtures, collected by name

RECORDS = [make_record(i) for i in range(25)]


@pytest.fixture
def conn_id(httpserver: HTTPServer, airflow_connection) -> str:
    """An Airflow HTTP connection to the test server, with a bearer token as password."""
    name = f"rest_{secrets.token_hex(4)}"
    body = {"conn_type": "http", "host": httpserver.url_for("/").rstrip("/"), "password": "tok-" + "s3cr3t" * 4}
    return airflow_connection(name, json.dumps(body))


def rest_spec(conn_id: str, config: dict[str, Any], **fields: Any) -> RestApiConnector:
    data = {
        "source_type": "rest_api",
        "source_name": "things_api",
        "conn_id": conn_id,
        "config": {"endpoint": "/api/things", "retry_backoff_seconds": 0.01, **config},
        **fields,
    }
    return parse_spec(data)


def incremental_spec(conn_id: str, page_size: int | None = None, **fields: Any) -> RestApiConnector:
    """The fake API's records, incremental on ``updated_at`` sent as ``since``, merged by ``id``."""
    pagination = {"type": "offset", "page_size": page_size} if page_size else {"type": "offset"}
    config = {"pagination": pagination, "record_path": "items", "primary_key": "id", "cursor_param": "since"}
    return rest_spec(conn_id, config, incremental=True, timestamp_column="updated_at", **fields)


def read_all(spec: RestApiConnector, request: ReadRequest | None = None):
    source = build_source(spec)
    assert isinstance(source, RestApiSource)
    with source.read(source.streams()[0], request or ReadRequest(batch_size=7)) as read:
        rows = [row for batch in read.batches() for row in batch]
        return read.schema, rows, read.upper_bound


PAGINATIONS = {
    "offset": ({"type": "offset", "page_size": 10, "total_path": "total"}, "items"),
    "page": ({"type": "page", "page_size": 10}, "data.results"),
    "cursor": ({"type": "cursor", "page_size": 10, "has_more_path": "has_more"}, "items"),
    "next_url": ({"type": "next_url", "page_size": 10}, "results"),
    "link_header": ({"type": "link_header", "page_size": 10}, None),
}


@pytest.mark.parametrize("style", PAGINATIONS)
def test_every_paginator_reads_every_record_once(httpserver: HTTPServer, conn_id: str, style: str):
    api = FakeApi(httpserver, RECORDS, style).install()
    pagination, record_path = PAGINATIONS[style]
    spec = rest_spec(conn_id, {"pagination": pagination, "record_path": record_path, "primary_key": "id"})
    schema, rows, _ = read_all(spec)
    ids = [row[schema.column_names.index("id")] for row in rows]
    assert ids == list(range(25))
    assert len(api.seen) == 3  # 10 + 10 + 5: each style knows the 5-record page is the last
    assert schema.primary_key == ("id",)


def test_rate_limit_holds_for_the_whole_run_across_pages_and_retries(httpserver: HTTPServer, conn_id: str):
    api = FakeApi(httpserver, RECORDS, "offset")
    httpserver.clear()

    def throttled(request):  # the 3rd request is refused once, with Retry-After: 0
        if len(api.arrivals) == 2 and not getattr(api, "throttled", False):
            api.throttled = True
            api.arrivals.append(time.monotonic())
            return Response("slow down", 429, headers={"Retry-After": "0"})
        return api(request)

    httpserver.expect_request("/api/things").respond_with_handler(throttled)
    spec = rest_spec(
        conn_id,
        {
            "pagination": {"type": "offset", "page_size": 5},
            "record_path": "items",
            "rate_limit": {"requests_per_second": 10},
        },
    )
    assert len(read_all(spec)[1]) == 25
    assert len(api.arrivals) == 7  # 5 full pages, the empty page, and the refused request
    gaps = [b - a for a, b in zip(api.arrivals, api.arrivals[1:], strict=False)]
    # 10/s: 100 ms apart, the retry after the 429 included. Arrival times seen by a server thread in
    # this process jitter (GIL hand-over, a loaded CI machine: 68 ms was seen), hence the wide margin
    # on single gaps; without the limit they are ~2-10 ms apart. The span checks the rate itself.
    assert min(gaps) >= 0.05, gaps
    assert api.arrivals[-1] - api.arrivals[0] >= 0.55  # 6 intervals of 0.1 s, less jitter


def test_stop_on_empty_page_when_nothing_else_tells(httpserver: HTTPServer, conn_id: str):
    api = FakeApi(httpserver, RECORDS[:20], "offset").install()
    spec = rest_spec(conn_id, {"pagination": {"type": "offset"}, "record_path": "items"})
    _, rows, _ = read_all(spec)
    assert len(rows) == 20 and len(api.seen) == 3  # 10, 10, then an empty page
    assert [r.args["offset"] for r in api.seen] == ["0", "10", "20"]


def test_stop_when_total_count_reached(httpserver: HTTPServer, conn_id: str):
    api = FakeApi(httpserver, RECORDS[:20], "offset").install()
    spec = rest_spec(
        conn_id, {"pagination": {"type": "offset", "page_size": 10, "total_path": "total"}, "record_path": "items"}
    )
    assert len(read_all(spec)[1]) == 20
    assert len(api.seen) == 2  # no third request for an empty page


def test_short_page_stop_can_be_turned_off(httpserver: HTTPServer, conn_id: str):
    # The API caps pages at 10 although 50 were asked: a short page is not the end.
    api = FakeApi(httpserver, RECORDS, "offset").install()
    httpserver.clear()

    def capped(request):
        args = request.args.to_dict()
        args["limit"] = str(min(int(args["limit"]), 10))
        request.args = type(request.args)(args)
        return api(request)

    httpserver.expect_request("/api/things").respond_with_handler(capped)
    config = {"pagination": {"type": "offset", "page_size": 50}, "record_path": "items"}
    assert len(read_all(rest_spec(conn_id, config))[1]) == 10
    config["pagination"]["stop_on_short_page"] = False
    assert len(read_all(rest_spec(conn_id, config))[1]) == 25


def test_max_pages(httpserver: HTTPServer, conn_id: str):
    api = FakeApi(httpserver, RECORDS, "cursor").install()
    pagination = {"type": "cursor", "page_size": 5, "max_pages": 2}
    spec = rest_spec(conn_id, {"pagination": pagination, "record_path": "items"})
    assert len(read_all(spec)[1]) == 10 and len(api.seen) == 2


def test_has_more_false_stops_even_with_a_cursor(httpserver: HTTPServer, conn_id: str):
    httpserver.expect_request("/api/things").respond_with_json(
        {"items": RECORDS[:3], "next_cursor": "abc", "has_more": False}
    )
    spec = rest_spec(conn_id, {"pagination": {"type": "cursor", "has_more_path": "has_more"}, "record_path": "items"})
    assert len(read_all(spec)[1]) == 3 and len(httpserver.log) == 1


def test_loop_guard_same_page_content(httpserver: HTTPServer, conn_id: str):
    # An API ignoring the offset parameter serves page 1 forever.
    httpserver.expect_request("/api/things").respond_with_json({"items": RECORDS[:10]})
    spec = rest_spec(conn_id, {"pagination": {"type": "offset", "page_size": 10}, "record_path": "items"})
    with pytest.raises(SourceError, match=r"pagination loop .*page 2 has the same content as page 1"):
        read_all(spec)
    assert len(httpserver.log) == 2


@pytest.mark.parametrize(
    ("pagination", "record_path", "link", "expected"),
    [
        ({"type": "cursor"}, "items", lambda n: {"next_cursor": str(n % 2 + 1)}, r"cursor '1' was already followed"),
        ({"type": "next_url"}, "results", lambda n: {"next": f"/api/things?cursor={n % 2 + 1}"},
         r"next URL .*cursor=1.* was already followed"),
    ],
)
def test_loop_guard_repeated_cursor_or_link(httpserver: HTTPServer, conn_id: str, pagination, record_path, link,
                                            expected):
    served = []

    def handler(request):  # fresh records each time, but the links go 1 -> 2 -> 1
        n = int(request.args.get("cursor", 0))
        served.append(n)
        return Response(json.dumps({record_path: [make_record(len(served))], **link(n)}),
                        content_type="application/json")

    httpserver.expect_request("/api/things").respond_with_handler(handler)
    spec = rest_spec(conn_id, {"pagination": pagination, "record_path": record_path})
    with pytest.raises(SourceError, match=rf"pagination loop .*{expected}"):
        read_all(spec)
    assert served == [0, 1, 2]


def test_next_url_to_another_host_is_refused(httpserver: HTTPServer, conn_id: str):
    httpserver.expect_request("/api/things").respond_with_json(
        {"results": RECORDS[:2], "next": "https://elsewhere.example/api/things?page=2"}
    )
    spec = rest_spec(conn_id, {"pagination": {"type": "next_url"}, "record_path": "results"})
    with pytest.raises(SourceError, match=r"refused to request https://elsewhere.example/api/things\?page=2"):
        read_all(spec)


def test_schema_inferred_from_every_page(httpserver: HTTPServer, conn_id: str):
    later = [{**make_record(i), "score": 7, "labels": {"x": 1}} for i in range(10, 15)]
    later[0]["score"] = 2.5  # ints on page 1, a float on page 2: the column is float for the whole run
    records = [{k: v for k, v in make_record(i).items() if k != "score"} | {"score": i} for i in range(10)] + later
    FakeApi(httpserver, records, "offset").install()
    spec = rest_spec(
        conn_id,
        {
            "pagination": {"type": "offset", "page_size": 10},
            "record_path": "items",
            "primary_key": "id",
            "column_types": {"name": "json"},
        },
    )
    schema, rows, _ = read_all(spec)
    kinds = {c.name: c.type.kind for c in schema.columns}
    assert kinds == {
        "id": Kind.INT64,
        "name": Kind.JSON,
        "active": Kind.BOOLEAN,
        "updated_at": Kind.TIMESTAMPTZ,
        "owner": Kind.JSON,
        "tags": Kind.JSON,
        "score": Kind.FLOAT64,
        "labels": Kind.JSON,
    }
    assert not schema.column("id").nullable and schema.column("labels").nullable
    first, last = (dict(zip(schema.column_names, r, strict=True)) for r in (rows[0], rows[-1]))
    assert first["labels"] is None and last["labels"] == {"x": 1}
    assert first["score"] == 0.0 and isinstance(first["score"], float)
    assert first["updated_at"] == datetime(2026, 1, 1, tzinfo=UTC)
    assert first["owner"] == {"login": "user0", "id": 0} and first["tags"] == ["t0", "all"]


def test_records_beyond_the_memory_budget_spill_to_a_file(httpserver: HTTPServer, conn_id: str, monkeypatch):
    from atlas.sources import rest_api

    monkeypatch.setattr(rest_api, "SPOOL_MEMORY_BYTES", 2000)  # about one page of 5 records
    FakeApi(httpserver, RECORDS, "offset").install()
    pagination = {"type": "offset", "page_size": 5}
    source = build_source(rest_spec(conn_id, {"pagination": pagination, "record_path": "items"}))
    with source.read("things", ReadRequest(batch_size=4)) as read:
        assert read.spool._memory and read.spool._spilled >= 3  # some pages kept, most spilled
        ids = [row[0] for batch in read.batches() for row in batch]
    assert ids == list(range(25))


def test_null_only_field_is_flagged(httpserver: HTTPServer, conn_id: str):
    httpserver.expect_request("/api/things").respond_with_json([{"id": 1, "closed_at": None}])
    schema, rows, _ = read_all(rest_spec(conn_id, {}))
    assert schema.column("closed_at").type.source_type == "null" and rows == [(1, None)]


def test_incremental_sends_the_watermark_and_reports_the_highest_cursor(httpserver: HTTPServer, conn_id: str):
    api = FakeApi(httpserver, RECORDS, "offset").install()
    spec = incremental_spec(conn_id, page_size=10)
    lower = Watermark("updated_at", "timestamp", datetime(2026, 1, 1, 0, 20, 0, 123, tzinfo=UTC))
    schema, rows, upper = read_all(spec, ReadRequest(cursor="updated_at", lower_bound=lower))
    assert api.seen[0].args["since"] == "2026-01-01T00:20:00Z"  # sub-second part dropped: re-reading is harmless
    assert [r[0] for r in rows] == [20, 21, 22, 23, 24]
    assert upper == Watermark("updated_at", "timestamp", datetime(2026, 1, 1, 0, 24, tzinfo=UTC))


def test_integer_cursor(httpserver: HTTPServer, conn_id: str):
    httpserver.expect_request("/api/things").respond_with_json([{"id": 5}, {"id": 9}, {"id": 7}])
    spec = rest_spec(conn_id, {"cursor_param": "since_id"}, incremental=True, timestamp_column="id")
    _, _, upper = read_all(spec, ReadRequest(cursor="id", lower_bound=Watermark("id", "integer", 4)))
    assert upper == Watermark("id", "integer", 9)
    assert httpserver.log[0][0].args["since_id"] == "4"


def test_watermark_formats():
    ts = Watermark("t", "timestamp", datetime(2026, 3, 4, 5, 6, 7, 890000, tzinfo=UTC))
    assert format_watermark(ts, None) == "2026-03-04T05:06:07Z"
    assert format_watermark(ts, "%Y%m%d") == "20260304"
    assert format_watermark(ts, "unix") == "1772600767"
    assert format_watermark(ts, "unix_ms") == "1772600767890"
    assert format_watermark(Watermark("id", "integer", 42), None) == "42"


def test_stream_names():
    assert stream_name("/search/repositories?q=python") == "repositories"
    assert stream_name("/api/v2/dags/~/dagRuns") == "dagruns"
    assert stream_name("/") == "records"


@pytest.mark.parametrize(
    ("body", "config", "expected"),
    [
        ({"data": []}, {"record_path": "items"}, r"the body has no 'items'"),
        ({"items": {"a": 1}}, {"record_path": "items"}, r"expected a list of records at 'items', got a JSON object"),
        ({"items": [1, 2]}, {"record_path": "items"}, r"expected JSON objects at 'items', record 0 is a JSON number"),
        ([{"id": 1, "bad;name": 2}], {}, r"field 'bad;name' cannot be a column"),
        ([{"id": 1}, {"name": "x"}], {"primary_key": "id"}, r"record 1 has no primary key field 'id'"),
    ],
)
def test_bad_bodies_fail_naming_connector_url_and_expectation(
    httpserver: HTTPServer, conn_id: str, body, config, expected
):
    httpserver.expect_request("/api/things").respond_with_json(body)
    with pytest.raises(SourceError, match=expected) as err:
        read_all(rest_spec(conn_id, config))
    assert "connector 'things_api'" in str(err.value) and "/api/things" in str(err.value)


def test_null_cursor_is_loaded_but_not_a_bound(httpserver: HTTPServer, conn_id: str):
    httpserver.expect_request("/api/things").respond_with_json([{"id": 1, "n": 5}, {"id": 2, "n": None}])
    spec = rest_spec(conn_id, {}, incremental=True, timestamp_column="n")
    _, rows, upper = read_all(spec, ReadRequest(cursor="n"))
    assert rows == [(1, 5), (2, None)] and upper == Watermark("n", "integer", 5)


def test_missing_cursor_field_fails(httpserver: HTTPServer, conn_id: str):
    httpserver.expect_request("/api/things").respond_with_json([make_record(1), {"id": 2}])
    spec = rest_spec(conn_id, {}, incremental=True, timestamp_column="updated_at")
    with pytest.raises(SourceError, match=r"record 1 has no usable cursor 'updated_at' \(no such field\)"):
        read_all(spec, ReadRequest(cursor="updated_at"))
    httpserver.clear()
    httpserver.expect_request("/api/things").respond_with_json([make_record(1), {"id": 2, "updated_at": "soon"}])
    with pytest.raises(SourceError, match=r"record 1 has no usable cursor 'updated_at' \('soon'\)"):
        read_all(spec, ReadRequest(cursor="updated_at"))


def test_bad_page_late_in_the_run_fails_before_any_row_is_handed_over(httpserver: HTTPServer, conn_id: str):
    def handler(request):
        if request.args.get("offset") == "10":
            return Response("<html>502 Bad Gateway</html>", 200, content_type="text/html")
        return Response(json.dumps({"items": RECORDS[:10]}), content_type="application/json")

    httpserver.expect_request("/api/things").respond_with_handler(handler)
    pagination = {"type": "offset", "page_size": 10}
    source = build_source(rest_spec(conn_id, {"pagination": pagination, "record_path": "items"}))
    with pytest.raises(SourceError, match="got an HTML page"), source.read("things", ReadRequest()):
        pytest.fail("the read must not open: page 2 is broken")


def test_unknown_stream(conn_id: str):
    with pytest.raises(SourceError, match="unknown stream 'other'; this connector has 'things'"):
        build_source(rest_spec(conn_id, {})).discover("other")


def test_discover_and_test_connection(httpserver: HTTPServer, conn_id: str):
    FakeApi(httpserver, RECORDS, "offset").install()
    source = build_source(
        rest_spec(
            conn_id, {"pagination": {"type": "offset", "page_size": 10}, "record_path": "items", "primary_key": ["id"]}
        )
    )
    assert source.discover("things").column("updated_at").type.kind == Kind.TIMESTAMPTZ
    ok, message = source.test_connection()
    assert ok and "HTTP 200, 10 records" in message and "/api/things" in message


def test_test_connection_reports_instead_of_raising(httpserver: HTTPServer, conn_id: str, airflow_connection):
    httpserver.expect_request("/api/things").respond_with_data("nope", status=403)
    ok, message = build_source(rest_spec(conn_id, {})).test_connection()
    assert not ok and "HTTP 403" in message
    ok, message = build_source(rest_spec("no_such_conn", {})).test_connection()
    assert not ok and "'no_such_conn' does not exist" in message


def test_secrets_stay_out_of_errors_and_logs(httpserver: HTTPServer, airflow_connection, caplog, capfd):
    key = "k3y-" + secrets.token_hex(12)
    conn = airflow_connection(
        "rest_keyed", json.dumps({"conn_type": "http", "host": httpserver.url_for("/").rstrip("/"), "password": key})
    )
    httpserver.expect_request("/api/things").respond_with_data(f"invalid key {key}", status=401)
    spec = rest_spec(conn, {"auth": {"type": "api_key", "api_key_in": "query", "api_key_name": "appid"}})
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.ERROR, logger="werkzeug")  # the test server's own access log
    with pytest.raises(SourceError) as err:
        read_all(spec)
    assert httpserver.log[0][0].args["appid"] == key  # it was sent...
    message = str(err.value)
    assert "HTTP 401" in message and "appid=***" in message and "invalid key ***" in message
    out, errs = capfd.readouterr()
    for text in (message, caplog.text, out, errs):
        assert key not in text


# ------------------------------------------------------------------- end to end through sync_stream
@pytest.fixture
def registry(atlas_home):
    from atlas.registry import ConnectorRegistry

    registry = ConnectorRegistry.default()
    registry.upgrade()
    return registry


def _at(minute: int) -> str:
    return f"2026-01-01T00:{minute:02d}:00Z"


def test_incremental_sync_with_boundary_ties(httpserver, conn_id, destination, registry, airflow_db):
    """Run 1 ends on a tie (two records at T3); a third record with T3 arrives later, one record is
    updated: run 2 re-reads from T3 inclusive and merges — nothing skipped, nothing duplicated."""
    from atlas.sync import sync_stream
    from atlas.watermark import WatermarkStore

    records = [{"id": i, "name": f"v1-{i}", "updated_at": _at(m)} for i, m in [(1, 1), (2, 2), (3, 3), (4, 3)]]
    api = FakeApi(httpserver, records, "offset").install()
    name = f"things_{secrets.token_hex(3)}"
    spec = registry.add(incremental_spec(conn_id, page_size=2, source_name=name))
    watermarks = WatermarkStore()

    def sync():
        return sync_stream(spec, "things", registry=registry, destination=destination, watermarks=watermarks)

    first = sync()
    assert (first.mode, first.rows_written) == ("replace", 4)
    assert first.watermark_after["value"] == "2026-01-01T00:03:00.000000+00:00"
    assert "since" not in api.seen[0].args

    records.append({"id": 5, "name": "v1-5", "updated_at": _at(3)})  # a late tie at the boundary
    records[1] = {"id": 2, "name": "v2-2", "updated_at": _at(4)}
    records.append({"id": 6, "name": "v1-6", "updated_at": _at(5)})
    api.seen.clear()
    second = sync()
    assert api.seen[0].args["since"] == "2026-01-01T00:03:00Z"
    assert (second.mode, second.rows_read) == ("merge", 5)  # 3, 4 (re-read), 5 (late tie), 2 (updated), 6
    target = destination.target(None, name, "things")
    assert rows_of(destination, target, "id, name", "id") == [
        (1, "v1-1"),
        (2, "v2-2"),
        (3, "v1-3"),
        (4, "v1-4"),
        (5, "v1-5"),
        (6, "v1-6"),
    ]
    assert watermarks.get(name, "things").value == datetime(2026, 1, 1, 0, 5, tzinfo=UTC)

    # A broken page fails the run: the table and the watermark stay as they were.
    records.append({"id": 7, "name": "v1-7", "updated_at": _at(6)})
    records.append({"id": 8, "updated_at": _at(7), "name": "x"})
    httpserver.clear()
    httpserver.expect_request(
        "/api/things", query_string={"since": _at(5), "limit": "2", "offset": "2"}
    ).respond_with_data("<html>oops</html>", content_type="text/html")
    api.install()
    with pytest.raises(SourceError, match="got an HTML page"):
        sync()
    assert rows_of(destination, target, "id", "id") == [(i,) for i in range(1, 7)]
    assert watermarks.get(name, "things").value == datetime(2026, 1, 1, 0, 5, tzinfo=UTC)
    history, _ = registry.history(name)
    assert [run["status"] for run in history] == ["failed", "success", "success"]
    assert "got an HTML page" in history[0]["error"]


def test_new_fields_become_columns_in_later_runs(httpserver, conn_id, destination, registry, airflow_db):
    from atlas.sync import sync_stream
    from atlas.watermark import WatermarkStore

    records = [{"id": 1, "name": "a", "closed_at": "2026-01-01T00:00:00Z", "updated_at": _at(1)}]
    FakeApi(httpserver, records, "offset").install()
    name = f"drift_{secrets.token_hex(3)}"
    spec = registry.add(incremental_spec(conn_id, source_name=name))

    def sync():
        return sync_stream(spec, "things", registry=registry, destination=destination, watermarks=WatermarkStore())

    sync()
    # Run 2: a new nested field becomes a JSON column; the old row has NULL there.
    records[:] = [{"id": 2, "name": "b", "closed_at": "2026-01-02T00:00:00Z", "labels": {"p": 1}, "updated_at": _at(2)}]
    assert sync().rows_written == 1
    target = destination.target(None, name, "things")
    rows = rows_of(destination, target, "id, name, labels", "id")
    assert [r[:2] for r in rows] == [(1, "a"), (2, "b")]
    labels = rows[1][2]
    assert rows[0][2] is None and (json.loads(labels) if isinstance(labels, str) else labels) == {"p": 1}


# --------------------------------------------------------------- Airflow's own REST API as a source
@pytest.mark.airflow_server
def test_airflow_api_as_a_source_with_token_endpoint_auth(tmp_path, airflow_connection):
    """The demo's shape, on a real Airflow API server: JWT from POST /auth/token (JSON username and
    password from the connection), offset pagination with ``limit``/``offset`` and ``total_entries``."""
    from tests.support.airflow_server import start_airflow

    server = start_airflow(components=("api-server",), users={"admin": "admin"})
    try:
        variables = {f"demo_var_{i:02d}": f"value {i}" for i in range(23)}
        (tmp_path / "vars.json").write_text(json.dumps(variables))
        server.cli("variables", "import", str(tmp_path / "vars.json"))
        conn = airflow_connection("airflow_api", json.dumps({
            "conn_type": "http", "host": server.base_url, "login": "admin", "password": server.passwords["admin"],
        }))
        spec = rest_spec(conn, {
            "endpoint": "/api/v2/variables",
            "params": {"order_by": "key"},
            "record_path": "variables",
            "primary_key": "key",
            "pagination": {"type": "offset", "page_size": 10, "total_path": "total_entries"},
            "auth": {"type": "token_endpoint", "token_url": "/auth/token"},
        }, source_name="airflow_variables")
        source = build_source(spec)
        assert source.test_connection()[0]
        schema, rows, _ = read_all(spec)
        keys = [row[schema.column_names.index("key")] for row in rows]
        assert keys == sorted(variables) and schema.primary_key == ("key",)
        assert server.passwords["admin"] not in repr(rows)

        # The demo's connector as shipped: Airflow accepts its order_by and its run_after_gte watermark.
        from atlas.demo import DEMO_REST_CONNECTOR

        demo = parse_spec({**DEMO_REST_CONNECTOR, "conn_id": conn})
        since = Watermark("run_after", "timestamp", datetime(2026, 1, 1, tzinfo=UTC))
        with build_source(demo).read("dagruns", ReadRequest(cursor="run_after", lower_bound=since)) as read:
            assert list(read.batches()) == [] and read.upper_bound is None  # no DAGs run on this server
    finally:
        server.stop()
        server.remove()


def test_incremental_run_without_new_records(httpserver, conn_id, destination, registry, airflow_db):
    from atlas.sync import sync_stream
    from atlas.watermark import WatermarkStore

    records = [{"id": 1, "name": "a", "updated_at": _at(1)}]
    FakeApi(httpserver, records, "offset").install()
    name = f"quiet_{secrets.token_hex(3)}"
    spec = registry.add(incremental_spec(conn_id, source_name=name))

    def sync():
        return sync_stream(spec, "things", registry=registry, destination=destination, watermarks=WatermarkStore())

    assert sync().rows_written == 1
    records.clear()  # nothing new since the watermark
    second = sync()
    assert (second.rows_read, second.watermark_after) == (0, second.watermark_before)
    assert rows_of(destination, destination.target(None, name, "things"), "id, name") == [(1, "a")]
