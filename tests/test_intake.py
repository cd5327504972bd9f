"""The seed's request bodies are accepted verbatim; inline secrets go to a Connection, never the row."""

from __future__ import annotations

import pytest

from atlas.exceptions import ConnectorConfigError
from atlas.intake import parse_request

SEED_POSTGRES = {
    "source_type": "postgresql",
    "source_name": "my_database",
    "config": {
        "source_type": "postgresql",
        "source_name": "my_database",
        "host": "localhost",
        "port": 5432,
        "database": "mydb",
        "username": "user",
        "password": "password",
    },
    "schedule_cron": "0 * * * *",
    "enabled": True,
    "incremental": True,
    "timestamp_column": "updated_at",
    "table": "users",
}
SEED_REST = {
    "source_type": "rest_api",
    "source_name": "github_repos",
    "config": {
        "base_url": "https://api.github.com",
        "auth_type": "bearer",
        "auth_token": "ghp_token",
        "additional_params": {"pagination_type": "cursor", "page_size": 100},
    },
    "schedule_cron": "0 0 * * *",
    "query": "/search/repositories?q=python",
}


def test_seed_sql_body_splits_into_secret_free_spec_and_connection():
    intake = parse_request(SEED_POSTGRES)
    spec, conn = intake.spec, intake.connection
    assert spec.conn_id == conn.conn_id == "atlas_my_database"
    assert spec.config.table == "users"
    assert spec.schedule_cron == "0 * * * *"
    assert (conn.conn_type, conn.host, conn.port, conn.schema, conn.login, conn.password) == (
        "postgres",
        "localhost",
        5432,
        "mydb",
        "user",
        "password",
    )
    assert "password" not in str(spec.to_row())


def test_seed_rest_body_maps_auth_pagination_and_query():
    intake = parse_request(SEED_REST)
    spec, conn = intake.spec, intake.connection
    assert spec.config.endpoint == "/search/repositories?q=python"
    assert spec.config.auth.type == "bearer"
    assert (spec.config.pagination.type, spec.config.pagination.page_size) == ("cursor", 100)
    assert (conn.conn_type, conn.host, conn.password) == ("http", "https://api.github.com", "ghp_token")
    assert "ghp_token" not in str(spec.to_row())


def test_mysql_seed_body():
    body = SEED_POSTGRES | {"source_type": "mysql", "source_name": "legacy"}
    body["config"] = SEED_POSTGRES["config"] | {"source_type": "mysql", "source_name": "legacy", "port": "3306"}
    intake = parse_request(body)
    assert intake.connection.conn_type == "mysql"
    assert intake.connection.port == 3306


def test_existing_conn_id_without_inline_credentials():
    intake = parse_request({"source_type": "mysql", "source_name": "m", "conn_id": "prod_mysql", "table": "t"})
    assert intake.connection is None
    assert intake.spec.conn_id == "prod_mysql"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"source_type": "mysql", "source_name": "m", "table": "t"}, "conn_id"),
        (SEED_POSTGRES | {"conn_id": "other"}, "conn_id"),
        (SEED_POSTGRES | {"config": SEED_POSTGRES["config"] | {"port": "fifty"}}, "config.port"),
        (SEED_POSTGRES | {"config": SEED_POSTGRES["config"] | {"source_name": "else"}}, "config.source_name"),
        (SEED_POSTGRES | {"schedule_cron": "0 25 * * *"}, "schedule_cron"),
        (SEED_REST | {"config": {"base_url": "https://x", "auth_type": "bearer"}}, "config.auth_token"),
    ],
)
def test_bad_bodies_name_connector_and_field(body, field):
    with pytest.raises(ConnectorConfigError) as info:
        parse_request(body)
    assert field in dict(info.value.errors)
    assert body["source_name"] in str(info.value)
    assert "password" not in str(info.value) or "password" in field


def test_partial_update_merges_over_existing():
    existing = parse_request(SEED_POSTGRES).spec.model_dump(by_alias=True, exclude_none=True)
    updated = parse_request({"schedule_cron": "*/5 * * * *", "config": {"batch_size": 500}}, existing=existing)
    assert updated.spec.schedule_cron == "*/5 * * * *"
    assert (updated.spec.config.batch_size, updated.spec.config.table) == (500, "users")
    assert updated.connection is None
    switched = parse_request({"config": {"table": None, "tables": ["a", "b"]}}, existing=existing)
    assert switched.spec.config.tables == ["a", "b"]


def test_partial_update_of_rest_credentials_keeps_the_type_and_repairs_invalid_rows():
    existing = parse_request(SEED_REST).spec.model_dump(by_alias=True, exclude_none=True)
    updated = parse_request({"config": {"auth_token": "new-token"}}, existing=existing)
    assert updated.spec.source_type == "rest_api"
    assert (updated.connection.conn_id, updated.connection.password) == ("atlas_github_repos", "new-token")
    broken = existing | {"schedule_cron": "61 * * * *"}
    assert parse_request({"schedule_cron": "@hourly"}, existing=broken).spec.schedule_cron == "@hourly"
