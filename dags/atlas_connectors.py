"""Atlas Connectors: one Airflow DAG per row of the connector registry (see include/atlas/factory.py)."""

from atlas.factory import build_all_dags

globals().update(build_all_dags())
