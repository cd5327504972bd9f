"""Connector operations shared by the CLI and the API, on the real Airflow metadata DB."""

from __future__ import annotations

import copy

import pytest

from atlas.connections import ConnectionDraft, get_connection, save_connection
from atlas.exceptions import DuplicateConnector
from atlas.service import create_connector, delete_connector, update_connector
from tests.test_intake import SEED_POSTGRES


def seed(name: str) -> dict:
    body = copy.deepcopy(SEED_POSTGRES) | {"source_name": name}
    body["config"]["source_name"] = name
    return body


def test_new_credentials_change_only_the_fields_they_name(registry):
    create_connector(registry, seed("svc_creds"))
    update_connector(registry, "svc_creds", {"config": {"password": "rotated"}})
    conn = get_connection("atlas_svc_creds")
    assert (conn.host, conn.port, conn.schema, conn.login, conn.password) == (
        "localhost",
        5432,
        "mydb",
        "user",
        "rotated",
    )


def test_duplicate_name_is_refused_before_anything_is_written(registry):
    create_connector(registry, seed("svc_dup"))
    second = seed("svc_dup")
    second["config"]["password"] = "other"
    with pytest.raises(DuplicateConnector):
        create_connector(registry, second)
    assert get_connection("atlas_svc_dup").password == "password"  # the first one's, untouched


def test_purge_keeps_a_connection_the_connector_only_names(registry):
    save_connection(ConnectionDraft(conn_id="shared_pg", conn_type="postgres", host="db"), replace=True)
    create_connector(
        registry, {"source_type": "postgresql", "source_name": "svc_shared", "conn_id": "shared_pg", "table": "t"}
    )
    assert delete_connector(registry, "svc_shared", purge=True)["connection_deleted"] is False
    assert get_connection("shared_pg").host == "db"
    create_connector(registry, seed("svc_own"))
    assert delete_connector(registry, "svc_own", purge=True)["connection_deleted"] is True
