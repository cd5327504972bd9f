"""Real Airflow processes for tests: an API server (and friends) on a free port, in a throw-away home.

``start_airflow()`` writes a fresh ``AIRFLOW_HOME``, migrates the metadata DB and starts the chosen
components (``airflow api-server``, ``scheduler``, ``dag-processor``, ``triggerer``, ``celery worker``)
as separate processes, each in its own session so that it and everything it forks can be stopped by
its PID. The executor, the metadata DB URL and the set of components are parameters, so the same
harness serves the LocalExecutor + SQLite setup and a CeleryExecutor + PostgreSQL variant::

    server = start_airflow(components=("api-server", "scheduler", "dag-processor"))
    try:
        token = server.token("admin")
        ...
    finally:
        server.stop()

Users come from the simple auth manager: ``users={"admin": "admin", "viewer": "viewer"}`` maps user
names to roles (viewer, user, op, admin); their passwords are generated here and written to the file
the auth manager reads, so tests know them without scraping logs.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import psutil
import requests

REPO = Path(__file__).resolve().parents[2]
VENV_BIN = Path(os.environ.get("ATLAS_VENV_BIN", REPO / ".venv" / "bin"))

#: CLI arguments of each component; ``{port}`` is the API server's port.
COMPONENT_COMMANDS: dict[str, tuple[str, ...]] = {
    "api-server": ("api-server", "--host", "127.0.0.1", "--port", "{port}", "--workers", "1"),
    "scheduler": ("scheduler",),
    "dag-processor": ("dag-processor",),
    "triggerer": ("triggerer",),
    "celery-worker": ("celery", "worker", "--concurrency", "{parallelism}"),
}

# A developer's or the test session's own Airflow settings must not leak into the servers.
_INHERITED_PREFIXES = ("AIRFLOW__", "AIRFLOW_CONN_", "AIRFLOW_VAR_", "AIRFLOW_HOME", "ATLAS_HOME", "_AIRFLOW")


def free_port() -> int:
    """A port nobody listens on right now (the kernel's choice for port 0)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class AirflowServer:
    """Running Airflow components sharing one home and one metadata DB."""

    home: Path
    port: int
    env: dict[str, str]
    passwords: dict[str, str]
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_dir(self) -> Path:
        return self.home / "logs"

    # ------------------------------------------------------------------------------------ auth
    def token(self, username: str = "admin") -> str:
        """A JWT for ``username`` from ``POST /auth/token`` (what API clients do)."""
        resp = requests.post(
            f"{self.base_url}/auth/token",
            json={"username": username, "password": self.passwords[username]},
            timeout=30,
        )
        resp.raise_for_status()
        return resp.json()["access_token"]

    def session(self, username: str | None = "admin") -> requests.Session:
        """A ``requests`` session sending ``username``'s token (none: unauthenticated)."""
        sess = requests.Session()
        if username is not None:
            sess.headers["Authorization"] = f"Bearer {self.token(username)}"
        return sess

    # ------------------------------------------------------------------------------------ CLI
    def cli(self, *args: str, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess:
        """Run ``airflow <args>`` against this server's home and metadata DB."""
        return self.run("airflow", *args, check=check, timeout=timeout)

    def run(self, program: str, *args: str, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess:
        """Run a program of the venv (``airflow``, ``atlas``) with this server's environment."""
        return subprocess.run(
            [str(VENV_BIN / program), *args],
            env=self.env,
            cwd=self.home,
            capture_output=True,
            text=True,
            check=check,
            timeout=timeout,
        )

    # -------------------------------------------------------------------------------- waiting
    def wait_healthy(self, timeout: float = 120) -> None:
        """Wait until the API server answers and every started component reports healthy."""
        checks = {"scheduler": "scheduler", "dag-processor": "dag_processor", "triggerer": "triggerer"}
        wanted = [checks[c] for c in self.processes if c in checks]
        deadline = time.monotonic() + timeout
        last = "no answer"
        while time.monotonic() < deadline:
            self._raise_if_exited()
            try:
                resp = requests.get(f"{self.base_url}/api/v2/monitor/health", timeout=5)
                body = resp.json() if resp.ok else {}
                last = json.dumps(body)
                if resp.ok and all(body.get(name, {}).get("status") == "healthy" for name in wanted):
                    return
            except requests.RequestException as exc:
                last = str(exc)
            time.sleep(0.5)
        raise TimeoutError(f"Airflow at {self.base_url} not healthy after {timeout}s: {last}\n{self.tail_logs()}")

    def wait_for_dag(self, dag_id: str, *, token: str, timeout: float = 120) -> float:
        """Wait until ``dag_id`` is parsed into the metadata DB; return the seconds waited."""
        start = time.monotonic()
        while time.monotonic() - start < timeout:
            self._raise_if_exited()
            resp = requests.get(
                f"{self.base_url}/api/v2/dags/{dag_id}", headers={"Authorization": f"Bearer {token}"}, timeout=60
            )
            if resp.status_code == 200:
                return time.monotonic() - start
            time.sleep(0.25)
        raise TimeoutError(f"DAG {dag_id} not parsed after {timeout}s\n{self.tail_logs()}")

    def wait_for_run(self, dag_id: str, run_id: str, *, token: str, timeout: float = 300) -> dict:
        """Wait until a DAG run reaches a final state; return the run as /api/v2 reports it."""
        deadline = time.monotonic() + timeout
        run: dict = {}
        while time.monotonic() < deadline:
            self._raise_if_exited()
            resp = requests.get(
                f"{self.base_url}/api/v2/dags/{dag_id}/dagRuns/{run_id}",
                headers={"Authorization": f"Bearer {token}"},
                timeout=60,
            )
            resp.raise_for_status()
            run = resp.json()
            if run["state"] in ("success", "failed"):
                return run
            time.sleep(1)
        raise TimeoutError(f"run {dag_id}/{run_id} still {run.get('state')} after {timeout}s\n{self.tail_logs()}")

    # ---------------------------------------------------------------------------------- logs
    def log_files(self) -> list[Path]:
        """Every log the components and their tasks wrote (component output and task logs)."""
        return sorted(p for p in self.log_dir.rglob("*") if p.is_file())

    def tail_logs(self, lines: int = 40) -> str:
        parts = []
        for name in self.processes:
            path = self.log_dir / f"{name}.log"
            if path.exists():
                text = path.read_text(errors="replace").splitlines()[-lines:]
                parts.append(f"--- {name} ---\n" + "\n".join(text))
        return "\n".join(parts)

    # ------------------------------------------------------------------------ starting, killing
    def start(
        self,
        name: str,
        component: str | None = None,
        *,
        args: Sequence[str] = (),
        env: Mapping[str, str] | None = None,
    ) -> subprocess.Popen:
        """Start ``component`` (default: ``name``) as the process ``name``, logging to ``logs/<name>.log``.

        Also after start-up: a second Celery worker, or a replacement for a killed one. ``args`` are
        appended to the component's command (``--queues …``), ``env`` overrides this process's settings.
        """
        if name in self.processes:
            raise ValueError(f"a process named {name!r} is already running")
        component = component or name
        parallelism = self.env["AIRFLOW__CORE__PARALLELISM"]
        command = [a.format(port=self.port, parallelism=parallelism) for a in COMPONENT_COMMANDS[component]]
        process_env = dict(self.env)
        if component == "celery-worker":
            # Each worker serves its task logs on a port of its own (Airflow's default 8793 would clash).
            process_env["AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT"] = str(free_port())
        process_env.update(env or {})
        with open(self.log_dir / f"{name}.log", "ab") as log:
            self.processes[name] = subprocess.Popen(
                [str(VENV_BIN / "airflow"), *command, *args],
                env=process_env,
                cwd=self.home,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        return self.processes[name]

    def kill(self, name: str) -> list[int]:
        """SIGKILL the process ``name`` and everything it forked at once, as when its machine dies.

        Returns the PIDs killed; the process leaves the running set (``stop()`` no longer sees it).
        """
        proc = self.processes.pop(name)
        try:
            parent = psutil.Process(proc.pid)
            tree = [parent, *parent.children(recursive=True)]
        except psutil.NoSuchProcess:
            tree = []
        for member in tree:
            with contextlib.suppress(psutil.NoSuchProcess):
                member.kill()
        psutil.wait_procs(tree, timeout=10)
        proc.wait(timeout=10)
        return [member.pid for member in tree]

    # ------------------------------------------------------------------------------ stopping
    def _raise_if_exited(self) -> None:
        for name, proc in self.processes.items():
            if proc.poll() is not None:
                raise RuntimeError(f"Airflow {name} exited with {proc.returncode}\n{self.tail_logs()}")

    def stop(self, timeout: float = 20) -> None:
        """Stop every component by its PID: SIGTERM, then SIGKILL for whatever it forked and left."""
        tree: list[psutil.Process] = []
        for proc in self.processes.values():
            try:
                parent = psutil.Process(proc.pid)
                tree += [parent, *parent.children(recursive=True)]
            except psutil.NoSuchProcess:
                continue
            proc.send_signal(signal.SIGTERM)
        _, alive = psutil.wait_procs([p for p in tree if p.is_running()], timeout=timeout)
        for straggler in alive:
            with contextlib.suppress(psutil.NoSuchProcess):
                straggler.kill()
        psutil.wait_procs(alive, timeout=5)
        for proc in self.processes.values():
            proc.wait(timeout=5)

    def remove(self) -> None:
        shutil.rmtree(self.home, ignore_errors=True)


def server_env(
    home: Path,
    port: int,
    *,
    executor: str,
    sql_alchemy_conn: str,
    users: Mapping[str, str],
    parallelism: int,
    parse_interval_seconds: int,
    extra_env: Mapping[str, str],
) -> dict[str, str]:
    """The environment of every component: all configuration is here, none in airflow.cfg."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(_INHERITED_PREFIXES)}
    env.update(
        PATH=f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}",
        AIRFLOW_HOME=str(home),
        ATLAS_HOME=str(home / "atlas"),
        AIRFLOW__CORE__EXECUTOR=executor,
        AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=sql_alchemy_conn,
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
        AIRFLOW__CORE__DAGS_FOLDER=str(REPO / "dags"),
        AIRFLOW__CORE__PLUGINS_FOLDER=str(REPO / "plugins"),
        AIRFLOW__CORE__PARALLELISM=str(parallelism),
        AIRFLOW__CORE__FERNET_KEY=_fernet_key(),
        AIRFLOW__CORE__EXECUTION_API_SERVER_URL=f"http://127.0.0.1:{port}/execution/",
        AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS=",".join(f"{u}:{r}" for u, r in users.items()),
        AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE=str(home / "passwords.json"),
        AIRFLOW__API__PORT=str(port),
        AIRFLOW__API__BASE_URL=f"http://127.0.0.1:{port}",
        AIRFLOW__API__WORKERS="1",
        AIRFLOW__API__SECRET_KEY=secrets.token_urlsafe(32),
        # The API server signs the tokens the scheduler's workers present: one secret for all.
        AIRFLOW__API_AUTH__JWT_SECRET=secrets.token_urlsafe(32),
        AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL=str(parse_interval_seconds),
        AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL=str(parse_interval_seconds),
        AIRFLOW__DAG_PROCESSOR__PARSING_PROCESSES="1",
        AIRFLOW__SCHEDULER__STANDALONE_DAG_PROCESSOR="True",
        AIRFLOW__LOGGING__BASE_LOG_FOLDER=str(home / "logs"),
        # Other Airflows run on this machine at the same time: no fixed ports (8793/8794 by default).
        AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT=str(free_port()),
        AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT=str(free_port()),
        # A loaded 2-core test machine answers the execution API slower than Airflow's 5 s default.
        AIRFLOW__WORKERS__EXECUTION_API_TIMEOUT="30",
        AIRFLOW__LOGGING__DAG_PROCESSOR_CHILD_PROCESS_LOG_DIRECTORY=str(home / "logs" / "dag_processor"),
        PYTHONUNBUFFERED="1",
    )
    env.update(extra_env)
    return env


def _fernet_key() -> str:
    from cryptography.fernet import Fernet

    return Fernet.generate_key().decode()


def start_airflow(
    *,
    executor: str = "LocalExecutor",
    sql_alchemy_conn: str | None = None,
    components: Sequence[str] = ("api-server", "scheduler", "dag-processor"),
    users: Mapping[str, str] | None = None,
    parallelism: int = 2,
    parse_interval_seconds: int = 2,
    extra_env: Mapping[str, str] | None = None,
    home: Path | None = None,
    startup_timeout: float = 180,
) -> AirflowServer:
    """Migrate a fresh metadata DB and start ``components``; return once all are healthy.

    ``sql_alchemy_conn`` defaults to SQLite in the throw-away home (fine for LocalExecutor); pass a
    PostgreSQL URL for CeleryExecutor. ``extra_env`` adds or overrides settings (broker URL, …).
    On any startup failure every started process is stopped before the error propagates.
    """
    unknown = set(components) - set(COMPONENT_COMMANDS)
    if unknown:
        raise ValueError(f"unknown components {sorted(unknown)}; choose from {sorted(COMPONENT_COMMANDS)}")
    home = home or Path(tempfile.mkdtemp(prefix="atlas-airflow-server-"))
    (home / "logs").mkdir(parents=True, exist_ok=True)
    users = dict(users or {"admin": "admin", "viewer": "viewer"})
    passwords = {u: secrets.token_urlsafe(12) for u in users}
    (home / "passwords.json").write_text(json.dumps(passwords))
    port = free_port()
    env = server_env(
        home,
        port,
        executor=executor,
        sql_alchemy_conn=sql_alchemy_conn or f"sqlite:///{home / 'airflow.db'}",
        users=users,
        parallelism=parallelism,
        parse_interval_seconds=parse_interval_seconds,
        extra_env=extra_env or {},
    )
    server = AirflowServer(home=home, port=port, env=env, passwords=passwords)
    server.cli("db", "migrate", timeout=300)
    try:
        for name in components:
            server.start(name)
        if "api-server" in components:
            server.wait_healthy(startup_timeout)
    except BaseException:
        server.stop()
        raise
    return server
