"""Where the registry, the warehouse and Atlas's local state live.

The registry and the warehouse are Airflow connections (``atlas_metadata``, ``atlas_warehouse``) when
they exist; otherwise embedded SQLite files under ``$ATLAS_HOME`` (default ``$AIRFLOW_HOME/atlas``),
so that the project runs on a bare machine.
"""

from __future__ import annotations

import os
from pathlib import Path

METADATA_CONN_ID = "atlas_metadata"
WAREHOUSE_CONN_ID = "atlas_warehouse"

DAG_ID_PREFIX = "atlas__"
#: Variables holding watermarks are named ``atlas__<source_name>__<stream>``.
WATERMARK_VARIABLE_PREFIX = "atlas__"
#: Airflow Connections made from inline credentials are named ``atlas_<source_name>``.
CONNECTION_ID_PREFIX = "atlas_"

REGISTRY_CONNECT_TIMEOUT_SECONDS = 5

#: The DAG checking every connector's ``max_staleness_minutes``; outside the ``atlas__`` namespace of
#: connector DAGs, so no connector name can take it.
FRESHNESS_DAG_ID = "atlas_freshness_monitor"


def freshness_check_cron() -> str:
    return os.environ.get("ATLAS_FRESHNESS_CHECK_CRON", "*/5 * * * *")


def airflow_home() -> Path:
    return Path(os.environ.get("AIRFLOW_HOME", Path.home() / "airflow"))


def atlas_home() -> Path:
    """Local state: embedded databases and the last-known-good registry snapshot."""
    home = Path(os.environ.get("ATLAS_HOME", airflow_home() / "atlas"))
    home.mkdir(parents=True, exist_ok=True)
    return home


def embedded_registry_path() -> Path:
    return atlas_home() / "registry.db"


def embedded_warehouse_path() -> Path:
    return atlas_home() / "warehouse.db"


def registry_snapshot_path() -> Path:
    return atlas_home() / "registry-snapshot.json"


def use_server_secrets_backends() -> None:
    """Let Airflow's connection lookup read the metadata DB outside a task (CLI, tests, API server).

    Airflow 3 only consults the metastore for connections in "server" processes; a plain script is
    otherwise limited to environment variables.
    """
    os.environ.setdefault("_AIRFLOW_PROCESS_CONTEXT", "server")
