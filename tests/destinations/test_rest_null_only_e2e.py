"""End to end, REST API -> sync_stream -> warehouse: an incremental run in which a typed field is null in
every record (``closed_at`` closed-then-reopened, ``points`` not yet scored) loads instead of failing as
a type change, and the warehouse keeps the columns' types for the run after."""

from __future__ import annotations

import secrets

from atlas.destinations.postgres import PostgresDestination
from tests.destinations.destination_helpers import rows_of
from tests.destinations.test_destination_drift import _types
from tests.http.fake_api import FakeApi
from tests.sources.test_rest_api import conn_id, incremental_spec, registry

__all__ = ["conn_id", "registry"]  # fixtures, collected by name


def _at(minute: int) -> str:
    return f"2026-01-01T00:{minute:02d}:00Z"


def _syncer(httpserver, records, conn_id, destination, registry, prefix: str):
    """Serve ``records`` (changed in place between runs); return the connector name and a sync()."""
    from atlas.sync import sync_stream
    from atlas.watermark import WatermarkStore

    FakeApi(httpserver, records, "offset").install()
    name = f"{prefix}_{secrets.token_hex(3)}"
    spec = registry.add(incremental_spec(conn_id, source_name=name))
    watermarks = WatermarkStore()

    def sync():
        return sync_stream(spec, "things", registry=registry, destination=destination, watermarks=watermarks)

    return name, sync


def test_an_incremental_run_with_only_nulls_in_typed_fields(httpserver, conn_id, destination, registry, airflow_db):
    records = [
        {"id": 1, "closed_at": "2026-01-01T10:00:00Z", "points": 3, "name": "a", "updated_at": _at(1)},
        {"id": 2, "closed_at": "2026-01-01T11:00:00Z", "points": 4, "name": "b", "updated_at": _at(2)},
    ]
    name, sync = _syncer(httpserver, records, conn_id, destination, registry, "nulls")
    assert sync().mode == "replace"
    target = destination.target(None, name, "things")
    types = _types(destination, target)

    # Run 2 reads only records whose closed_at and points are null: both columns are null-only.
    records[1] = {"id": 2, "closed_at": None, "points": None, "name": "b2", "updated_at": _at(3)}
    records.append({"id": 3, "closed_at": None, "points": None, "name": "c", "updated_at": _at(4)})
    second = sync()
    assert (second.mode, second.rows_read) == ("merge", 2)
    assert _types(destination, target) == types
    assert rows_of(destination, target, "id, closed_at IS NULL, points, name", "id") == [
        (1, False, 3, "a"),
        (2, True, None, "b2"),
        (3, True, None, "c"),
    ]

    # Run 3 sees values again: same types, no drift.
    records[2] = {"id": 3, "closed_at": "2026-01-01T12:00:00Z", "points": 5, "name": "c2", "updated_at": _at(5)}
    assert sync().rows_written == 1
    assert _types(destination, target) == types
    pg = isinstance(destination, PostgresDestination)
    assert types["closed_at"] == ("timestamp with time zone" if pg else "TIMESTAMPTZ_TEXT")
    assert rows_of(destination, target, "id, closed_at IS NULL, points, name", "id")[2] == (3, False, 5, "c2")


def test_a_field_null_in_the_first_run_gets_its_type_when_values_come(
    httpserver, conn_id, destination, registry, airflow_db
):
    """The demo's case: DAG runs still running have no end_date yet, the next sync sees end dates."""
    records = [{"id": 1, "closed_at": None, "name": "a", "updated_at": _at(1)}]
    name, sync = _syncer(httpserver, records, conn_id, destination, registry, "firstnull")
    sync()
    target = destination.target(None, name, "things")
    assert "closed_at" not in _types(destination, target)

    records[0] = {"id": 1, "closed_at": "2026-01-01T10:00:00Z", "name": "a", "updated_at": _at(2)}
    assert sync().rows_written == 1
    pg = isinstance(destination, PostgresDestination)
    assert _types(destination, target)["closed_at"] == ("timestamp with time zone" if pg else "TIMESTAMPTZ_TEXT")
    assert rows_of(destination, target, "id, closed_at IS NULL, name", "id") == [(1, False, "a")]
