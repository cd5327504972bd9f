"""Test session setup: a throw-away AIRFLOW_HOME and fresh databases on the real local servers.

Airflow reads its configuration at import, so the environment is set here, before anything imports
it. Tests talk to the real PostgreSQL (127.0.0.1:5432) and MariaDB (127.0.0.1:3306) that
``make test`` starts when they are down.
"""

from __future__ import annotations

import os
import secrets
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
_HOME = Path(tempfile.mkdtemp(prefix="atlas-test-airflow-"))
os.environ.update(
    AIRFLOW_HOME=str(_HOME),
    ATLAS_HOME=str(_HOME / "atlas"),
    AIRFLOW__CORE__LOAD_EXAMPLES="False",
    AIRFLOW__CORE__DAGS_FOLDER=str(REPO / "dags"),
    AIRFLOW__CORE__PLUGINS_FOLDER=str(REPO / "plugins"),
    AIRFLOW__CORE__PARALLELISM="4",
    AIRFLOW__CORE__FERNET_KEY=os.environ.get("ATLAS_TEST_FERNET_KEY") or "Hy5zYxOlFQIMH7tL1m4Gm7x6K3C0P-F0rgQ4nMUNWv8=",
    AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION="True",
    _AIRFLOW_PROCESS_CONTEXT="server",
)
for _name in [k for k in os.environ if k.startswith("AIRFLOW_CONN_")]:
    del os.environ[_name]  # a developer's own connections must not leak into tests

PG_HOST, PG_PORT = "127.0.0.1", 5432
MYSQL_HOST, MYSQL_PORT = "127.0.0.1", 3306


@dataclass(frozen=True)
class Database:
    """A throw-away database on a real local server."""

    kind: str  # "postgres" | "mysql"
    name: str

    @property
    def airflow_uri(self) -> str:
        if self.kind == "postgres":
            return f"postgres://postgres@{PG_HOST}:{PG_PORT}/{self.name}"
        return f"mysql://root@{MYSQL_HOST}:{MYSQL_PORT}/{self.name}"

    @property
    def sqlalchemy_url(self) -> str:
        if self.kind == "postgres":
            return f"postgresql+psycopg://postgres@{PG_HOST}:{PG_PORT}/{self.name}"
        return f"mysql://root@{MYSQL_HOST}:{MYSQL_PORT}/{self.name}"

    def connect(self):
        """A DB-API connection (autocommit) to this database."""
        if self.kind == "postgres":
            import psycopg

            return psycopg.connect(host=PG_HOST, port=PG_PORT, user="postgres", dbname=self.name, autocommit=True)
        import MySQLdb

        conn = MySQLdb.connect(host=MYSQL_HOST, port=MYSQL_PORT, user="root", database=self.name, charset="utf8mb4")
        conn.autocommit(True)
        return conn


def _create_database(kind: str) -> Database:
    name = f"atlas_test_{secrets.token_hex(4)}"
    if kind == "postgres":
        import psycopg

        with psycopg.connect(host=PG_HOST, port=PG_PORT, user="postgres", dbname="postgres", autocommit=True) as c:
            c.execute(f'CREATE DATABASE "{name}"')
    else:
        import MySQLdb

        c = MySQLdb.connect(host=MYSQL_HOST, port=MYSQL_PORT, user="root")
        c.cursor().execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin")
        c.close()
    return Database(kind, name)


def _drop_database(db: Database) -> None:
    if db.kind == "postgres":
        import psycopg

        with psycopg.connect(host=PG_HOST, port=PG_PORT, user="postgres", dbname="postgres", autocommit=True) as c:
            c.execute(f'DROP DATABASE IF EXISTS "{db.name}" WITH (FORCE)')
    else:
        import MySQLdb

        c = MySQLdb.connect(host=MYSQL_HOST, port=MYSQL_PORT, user="root")
        c.cursor().execute(f"DROP DATABASE IF EXISTS `{db.name}`")
        c.close()


@pytest.fixture
def pg_database() -> Iterator[Database]:
    db = _create_database("postgres")
    yield db
    _drop_database(db)


@pytest.fixture
def mysql_database() -> Iterator[Database]:
    db = _create_database("mysql")
    yield db
    _drop_database(db)


@pytest.fixture
def make_database() -> Iterator[Callable[[str], Database]]:
    """Several throw-away databases in one test: ``make_database("postgres")``, ``make_database("mysql")``."""
    made: list[Database] = []

    def make(kind: str) -> Database:
        made.append(_create_database(kind))
        return made[-1]

    yield make
    for db in made:
        _drop_database(db)


@pytest.fixture(scope="session")
def airflow_db() -> Path:
    """Airflow's metadata DB (SQLite in the throw-away AIRFLOW_HOME), created once per session."""
    from airflow.utils import db

    db.resetdb()
    return _HOME


@pytest.fixture
def airflow_connection(monkeypatch: pytest.MonkeyPatch):
    """Register an Airflow connection for one test: ``airflow_connection("my_id", "postgres://…")``.

    Environment-variable connections are seen by every process and context (CLI, tasks, servers).
    """

    def register(conn_id: str, uri: str) -> str:
        monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", uri)
        return conn_id

    return register


@pytest.fixture
def atlas_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh ATLAS_HOME: empty embedded registry and warehouse for one test."""
    monkeypatch.setenv("ATLAS_HOME", str(tmp_path / "atlas"))
    return tmp_path / "atlas"


@pytest.fixture
def registry(atlas_home: Path, airflow_db: Path):
    """The embedded registry of a fresh ATLAS_HOME, migrated, beside Airflow's test metadata DB."""
    from atlas.registry import ConnectorRegistry

    registry = ConnectorRegistry.default()
    registry.upgrade()
    return registry
