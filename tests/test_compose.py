"""docker-compose.yaml and docker/Dockerfile, checked against what the code and the repository expect.

No Docker engine runs here, so these tests read the files: service names, the connection variables
the package looks up (:mod:`atlas.settings`), mounts of paths that exist, the image tag matching the
pinned Airflow, the executor, health checks and the install from the lock. A rename on either side
fails here instead of at someone's first ``docker compose up``.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml

from atlas import settings
from tests.support.mysql_demo import load_mysql_demo

REPO = Path(__file__).resolve().parents[1]
COMPOSE = yaml.safe_load((REPO / "docker-compose.yaml").read_text())
SERVICES: dict[str, dict] = COMPOSE["services"]
DOCKERFILE = (REPO / "docker" / "Dockerfile").read_text()

AIRFLOW_SERVICES = {
    "airflow-apiserver": "api-server",
    "airflow-scheduler": "scheduler",
    "airflow-dag-processor": "dag-processor",
    "airflow-worker": "celery worker",
    "airflow-triggerer": "triggerer",
}
#: One-shot services: they exit, the others wait for their success instead of a health check.
ONE_SHOT = {"airflow-init"}
#: Where the Dockerfile installs the package (editable): include/ is mounted over <root>/include.
PACKAGE_ROOT = "/opt/atlas"


def _pin(name: str) -> str:
    for line in (REPO / "requirements.txt").read_text().splitlines():
        if line.split("==")[0].strip().lower() == name:
            return line.split("==")[1].strip()
    raise AssertionError(f"{name} is not pinned in requirements.txt")


def _env(service: str) -> dict[str, str]:
    return {k: str(v) for k, v in SERVICES[service].get("environment", {}).items()}


def _bind_mounts(service: str) -> dict[str, str]:
    """host path (relative to the repo) -> container path, for the service's bind mounts."""
    mounts = {}
    for spec in SERVICES[service].get("volumes", []):
        source, target = spec.split(":")[:2]
        if source.startswith("."):
            mounts[source] = target
    return mounts


def _dockerfile_instructions() -> list[tuple[str, str]]:
    joined = re.sub(r"\\\n\s*", " ", DOCKERFILE)
    pairs = []
    for line in joined.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            pairs.append((keyword.upper(), rest.strip()))
    return pairs


def _runs() -> list[str]:
    return [rest for keyword, rest in _dockerfile_instructions() if keyword == "RUN"]


def test_the_services_of_the_issue_exist():
    expected = set(AIRFLOW_SERVICES) | ONE_SHOT | {"postgres", "redis", "mysql-demo"}
    assert expected <= set(SERVICES), f"missing: {sorted(expected - set(SERVICES))}"
    for service, command in AIRFLOW_SERVICES.items():
        assert SERVICES[service]["command"] == command, service


@pytest.mark.parametrize("service", sorted(set(SERVICES) - ONE_SHOT))
def test_every_long_running_service_has_a_health_check(service):
    check = SERVICES[service].get("healthcheck")
    assert check and check["test"], f"{service} has no healthcheck"
    assert check["test"][0] in ("CMD", "CMD-SHELL")


def test_one_shot_services_are_awaited_for_success():
    for one_shot in ONE_SHOT:
        waiting = [
            name
            for name, svc in SERVICES.items()
            if svc.get("depends_on", {}).get(one_shot, {}).get("condition") == "service_completed_successfully"
        ]
        assert set(AIRFLOW_SERVICES) <= set(waiting), (
            f"not waiting for {one_shot}: {set(AIRFLOW_SERVICES) - set(waiting)}"
        )


def test_dependencies_name_existing_services_and_healthy_ones_have_checks():
    for name, svc in SERVICES.items():
        for dep, cond in svc.get("depends_on", {}).items():
            assert dep in SERVICES, f"{name} depends on unknown service {dep}"
            if cond.get("condition") == "service_healthy":
                assert "healthcheck" in SERVICES[dep], f"{name} waits for {dep} to be healthy; it has no check"


@pytest.mark.parametrize("service", sorted(set(AIRFLOW_SERVICES) | ONE_SHOT))
def test_airflow_services_run_celery_on_postgres_and_redis(service):
    env = _env(service)
    assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    assert urlsplit(env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]).hostname == "postgres"
    broker = urlsplit(env["AIRFLOW__CELERY__BROKER_URL"])
    assert (broker.scheme, broker.hostname) == ("redis", "redis")
    # Workers reach the task execution API on the API server, by its service name.
    api = urlsplit(env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"])
    assert api.hostname == "airflow-apiserver" and api.path == "/execution/"
    assert str(api.port) in SERVICES["airflow-apiserver"]["ports"][0].split(":")[-1]
    # Shared secrets: the same source for every component, never a literal in the file.
    assert "AIRFLOW__CORE__FERNET_KEY" not in env and "AIRFLOW__API_AUTH__JWT_SECRET" not in env
    assert env["AIRFLOW__CORE__FERNET_KEY_CMD"] and env["AIRFLOW__API_AUTH__JWT_SECRET_CMD"]


@pytest.mark.parametrize("service", sorted(set(AIRFLOW_SERVICES) | ONE_SHOT))
def test_registry_and_warehouse_connections_match_atlas_settings(service):
    env = _env(service)
    init_sql = (REPO / "docker" / "postgres" / "init-databases.sh").read_text()
    for conn_id in (settings.METADATA_CONN_ID, settings.WAREHOUSE_CONN_ID):
        uri = urlsplit(env[f"AIRFLOW_CONN_{conn_id.upper()}"])
        assert (uri.scheme, uri.hostname) == ("postgres", "postgres"), conn_id
        database = uri.path.lstrip("/")
        assert re.search(rf"CREATE DATABASE {database}\b", init_sql), f"{database} is not created by the init script"
    registry, warehouse = (
        urlsplit(env[f"AIRFLOW_CONN_{c.upper()}"]).path for c in (settings.METADATA_CONN_ID, settings.WAREHOUSE_CONN_ID)
    )
    assert registry != warehouse != "/airflow", "registry, warehouse and Airflow's metadata share a database"


def test_the_init_script_of_postgres_is_mounted_into_initdb():
    mounts = _bind_mounts("postgres")
    assert mounts["./docker/postgres/init-databases.sh"].startswith("/docker-entrypoint-initdb.d/")
    env = _env("postgres")
    for variable in re.findall(r"\$(ATLAS_[A-Z_]+)", (REPO / "docker/postgres/init-databases.sh").read_text()):
        assert variable in env, f"init-databases.sh reads {variable}; the postgres service does not set it"


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_bind_mounts_exist_in_the_repository(service):
    for source in _bind_mounts(service):
        assert (REPO / source).exists(), f"{service} mounts {source}, which is not in the repository"


@pytest.mark.parametrize("service", sorted(set(AIRFLOW_SERVICES) | ONE_SHOT))
def test_project_code_is_mounted_where_airflow_and_the_package_look(service):
    mounts = _bind_mounts(service)
    env = _env(service)
    assert mounts["./dags"] == env.get("AIRFLOW__CORE__DAGS_FOLDER", "/opt/airflow/dags")
    assert mounts["./plugins"] == env.get("AIRFLOW__CORE__PLUGINS_FOLDER", "/opt/airflow/plugins")
    assert mounts["./include"] == f"{PACKAGE_ROOT}/include"


def test_airflow_services_build_the_atlas_image():
    for service in set(AIRFLOW_SERVICES) | ONE_SHOT:
        build = SERVICES[service]["build"]
        assert (REPO / build["context"]).resolve() == REPO
        assert (REPO / build["dockerfile"]).resolve() == REPO / "docker" / "Dockerfile"


def test_image_tag_matches_the_pinned_airflow_and_python():
    (base,) = [rest for keyword, rest in _dockerfile_instructions() if keyword == "FROM"]
    python = re.search(r'target-version = "py(\d)(\d+)"', (REPO / "pyproject.toml").read_text())
    assert base == f"apache/airflow:{_pin('apache-airflow')}-python{python[1]}.{python[2]}"
    assert f"=={_pin('apache-airflow')}" in (REPO / "requirements.lock").read_text()


def test_dockerfile_installs_the_lock_then_the_package_editable():
    copies = {
        shlex.split(rest)[-1]: shlex.split(rest)[-2]
        for keyword, rest in _dockerfile_instructions()
        if keyword == "COPY"
    }
    for source in copies.values():
        assert (REPO / source).exists(), f"COPY {source}: not in the repository"
    runs = _runs()
    lock_target = next(t for t, s in copies.items() if s == "requirements.lock")
    lock_install = next(i for i, r in enumerate(runs) if re.search(rf"pip install .*-r {re.escape(lock_target)}\b", r))
    package_install = next(i for i, r in enumerate(runs) if re.search(rf"--no-deps -e {PACKAGE_ROOT}$", r))
    assert lock_install < package_install
    assert (
        copies[f"{PACKAGE_ROOT}/include"] == "include" and copies[f"{PACKAGE_ROOT}/pyproject.toml"] == "pyproject.toml"
    )
    # the official image installs pip packages as the airflow user; root is only for apt
    users = [rest for keyword, rest in _dockerfile_instructions() if keyword == "USER"]
    assert users[-1] == "airflow"


def test_the_init_service_runs_the_init_script_the_image_holds():
    init = SERVICES["airflow-init"]
    script = (REPO / "docker" / "airflow-init.sh").read_text()
    assert init["command"] == f"{PACKAGE_ROOT}/docker/airflow-init.sh"
    assert "airflow db migrate" in script and "atlas registry init" in script


def test_worker_is_scalable():
    worker = SERVICES["airflow-worker"]
    assert "container_name" not in worker and "ports" not in worker, "a fixed name or host port prevents --scale"


def test_mysql_demo_seeds_the_database_its_connection_names():
    mysql = SERVICES["mysql-demo"]
    uri = urlsplit(_env("airflow-worker")["AIRFLOW_CONN_DEMO_MYSQL"])
    assert uri.hostname == "mysql-demo" and uri.path.lstrip("/") == mysql["environment"]["MYSQL_DATABASE"]
    assert uri.username == mysql["environment"]["MYSQL_USER"]
    assert _bind_mounts("mysql-demo")["./docker/mysql/seed.sql"].startswith("/docker-entrypoint-initdb.d/")


def test_mysql_seed_loads_into_a_real_server(mysql_database):
    """The seed is plain SQL that MySQL 8 and MariaDB both run: load it into a throw-away database."""
    load_mysql_demo(mysql_database)
    conn = mysql_database.connect()
    cur = conn.cursor()
    cur.execute("SELECT COUNT(*), COUNT(DISTINCT customer_id) FROM orders")
    assert cur.fetchone() == (10_000, 1_000)
    cur.execute("SELECT COUNT(*) FROM customers")
    assert cur.fetchone() == (1_000,)
    conn.close()


@pytest.mark.parametrize("path", sorted((REPO / "docker" / "demo").glob("*.json")), ids=lambda p: p.name)
def test_demo_connectors_are_valid_and_read_what_the_demo_holds(path):
    """What airflow-init registers: a valid request, its connection defined, its tables seeded."""
    import json

    from atlas.intake import parse_request

    intake = parse_request(json.loads(path.read_text()))
    assert intake.connection is None, "demo connectors name a connection; no inline credentials"
    assert f"AIRFLOW_CONN_{intake.spec.conn_id.upper()}" in _env("airflow-worker")
    seed = (REPO / "docker" / "mysql" / "seed.sql").read_text()
    config = intake.spec.config
    for table in config.tables or [config.table]:
        assert re.search(rf"CREATE TABLE {table} \(", seed), f"{path.name}: table {table} is not in seed.sql"
    assert intake.spec.timestamp_column in seed
