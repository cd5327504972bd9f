"""`atlas demo setup`: idempotent, and its connection follows the demo database it set up."""

from __future__ import annotations

from atlas.connections import get_connection
from atlas.demo import DEMO_CONN_ID, setup_demo
from atlas.registry import ConnectorRegistry


def test_a_second_setup_elsewhere_repoints_the_demo_connection(airflow_db, atlas_home, tmp_path, monkeypatch):
    first = list(setup_demo(ConnectorRegistry.default()))
    assert get_connection(DEMO_CONN_ID).host == str(atlas_home / "demo_shop.db")
    assert list(setup_demo(ConnectorRegistry.default())) == []  # nothing left to do

    elsewhere = tmp_path / "elsewhere"
    monkeypatch.setenv("ATLAS_HOME", str(elsewhere))
    second = list(setup_demo(ConnectorRegistry.default()))
    assert get_connection(DEMO_CONN_ID).host == str(elsewhere / "demo_shop.db")
    assert any("updated the Airflow connection" in line for line in second), second
    assert any("added connector demo_shop" in line for line in first)
