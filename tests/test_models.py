from __future__ import annotations

import pytest

from atlas.exceptions import ConnectorConfigError
from atlas.models import PostgresConnector, RestApiConnector, parse_spec, spec_json_schema

BASE = {"source_type": "postgresql", "source_name": "shop", "conn_id": "shop_db", "config": {"table": "users"}}


def errors_of(data: dict) -> dict[str, str]:
    with pytest.raises(ConnectorConfigError) as info:
        parse_spec(data)
    assert info.value.connector == str(data.get("source_name") or "<unnamed>")
    return dict(info.value.errors)


def test_valid_spec_keeps_cron_verbatim_and_defaults():
    spec = parse_spec(BASE | {"schedule_cron": "*/15 * * * *"})
    assert isinstance(spec, PostgresConnector)
    assert spec.schedule_cron == "*/15 * * * *"
    assert spec.dag_id == "atlas__shop"
    assert (spec.enabled, spec.incremental, spec.config.batch_size, spec.config.source_timezone) == (
        True,
        False,
        10_000,
        "UTC",
    )


@pytest.mark.parametrize(
    ("change", "field", "fragment"),
    [
        ({"schedule_cron": "61 * * * *"}, "schedule_cron", "out of range"),
        ({"source_name": "Shop Name"}, "source_name", "pattern"),
        ({"config": {"table": "users; DROP TABLE x"}}, "config.table", "not a safe identifier"),
        ({"config": {"table": "a", "query": "select 1"}}, "config", "exactly one"),
        ({"config": {}}, "config", "exactly one"),
        ({"config": {"table": "a", "tabel": "b"}}, "config.tabel", "Extra inputs"),
        ({"config": {"table": "a", "source_timezone": "Mars/Olympus"}}, "config.source_timezone", "unknown time zone"),
        ({"config": {"query": "DELETE FROM t"}}, "config.query", "SELECT"),
        ({"config": {"table": "a", "columns": ["ok", "x`y"]}}, "config.columns", "not a safe identifier"),
        ({"incremental": True}, "", "timestamp_column"),
        ({"retries": 99}, "retries", "less than or equal"),
    ],
)
def test_errors_name_the_field(change, field, fragment):
    errors = errors_of(BASE | change)
    assert field in errors, errors
    assert fragment in errors[field]


def test_unknown_source_type_lists_valid_ones():
    errors = errors_of(BASE | {"source_type": "oracle"})
    assert "postgresql, mysql, sqlite, rest_api" in errors["source_type"]


def test_rest_spec_rejects_credentials_in_headers_and_full_urls():
    body = {"source_type": "rest_api", "source_name": "api", "conn_id": "c"}
    errors = errors_of(body | {"config": {"endpoint": "https://evil.example/x", "headers": {"X-Api-Key": "k"}}})
    assert "full URL" in errors["config.endpoint"]
    assert "credential" in errors["config.headers"]
    spec = parse_spec(body | {"config": {"endpoint": "items", "pagination": {"type": "offset", "page_size": 50}}})
    assert isinstance(spec, RestApiConnector)
    assert spec.config.endpoint == "/items"
    assert spec.config.pagination.page_size == 50


def test_json_schema_per_type():
    schema = spec_json_schema("mysql")
    assert "config" in schema["properties"]
    assert schema["properties"]["source_type"]["const"] == "mysql"
