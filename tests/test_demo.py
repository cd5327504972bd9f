"""``make demo`` stops on Ctrl-C: every process it started ends and its port is free again.

The demo runs as a user runs it: ``make demo`` in a terminal, here a pseudo-terminal whose foreground
process group gets SIGINT when ``\\x03`` is written to the master side, as a terminal's Ctrl-C does.
Its home and ports are throw-away, so a developer's own ``make demo`` on :8080 is not disturbed.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import signal
import socket
import subprocess
import termios
import threading
import time
from pathlib import Path

import pytest
import requests

from tests.helpers import REPO
from tests.support.airflow_server import _INHERITED_PREFIXES, free_port

pytestmark = pytest.mark.demo

STARTUP_TIMEOUT = 240
STOP_TIMEOUT = 60
WORKER_TITLE = "airflow worker -- LocalExecutor: "  # then the running task, or "<idle>"


class Terminal:
    """The master side of a pseudo-terminal; a thread keeps reading it so the demo never blocks on output."""

    def __init__(self) -> None:
        self.master, self.slave = os.openpty()
        self._chunks: list[bytes] = []

    def start_reading(self) -> None:
        """Once the child holds the slave side: read from here on, and let the child own the slave alone."""
        os.close(self.slave)
        threading.Thread(target=self._drain, daemon=True).start()

    def _drain(self) -> None:
        while True:
            try:
                chunk = os.read(self.master, 65536)
            except OSError:  # EIO: every process holding the slave side has closed it
                return
            if not chunk:
                return
            self._chunks.append(chunk)

    @property
    def text(self) -> str:
        return b"".join(self._chunks).decode(errors="replace")

    def ctrl_c(self) -> None:
        os.write(self.master, b"\x03")

    def close(self) -> None:
        os.close(self.master)


def _take_terminal() -> None:
    """In the child, after ``setsid``: make stdin (the slave) the controlling terminal of the new session."""
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


def demo_processes(sessions: set[int], home: Path) -> dict[int, str]:
    """Live processes of the demo: every process of ``sessions`` or carrying the demo's AIRFLOW_HOME.

    The sessions of the latter join ``sessions``: processes that retitle themselves (the LocalExecutor
    workers) overwrite their environment as /proc shows it, but stay in their session.
    """
    marker = f"AIRFLOW_HOME={home}".encode()
    alive: dict[int, tuple[int, str]] = {}
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            stat = (proc / "stat").read_text()
            environ = (proc / "environ").read_bytes().split(b"\0")
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:  # gone meanwhile
            continue
        state, _ppid, _pgrp, sid = stat.rsplit(")", 1)[1].split()[:4]
        if state != "Z":  # a zombie is dead, only waiting for its parent
            alive[int(proc.name)] = (int(sid), cmdline.strip())
            if marker in environ:
                sessions.add(int(sid))
    return {pid: cmdline for pid, (sid, cmdline) in alive.items() if sid in sessions}


def port_is_free(port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("", port))
        except OSError:
            return False
        return True


def wait_until_busy(proc: subprocess.Popen, terminal: Terminal, port: int, home: Path, sessions: set[int]) -> None:
    """Until the API answers on ``port`` and a LocalExecutor worker runs one of the demo's first syncs.

    Ctrl-C then comes at the hardest moment: the scheduler waits for running tasks before it exits.
    """
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"make demo exited with {proc.returncode}:\n{terminal.text[-4000:]}"
        workers = [cmd for cmd in demo_processes(sessions, home).values() if cmd.startswith(WORKER_TITLE)]
        if any("<idle>" not in cmd for cmd in workers):
            try:
                if requests.get(f"http://127.0.0.1:{port}/api/v2/monitor/health", timeout=5).ok:
                    return
            except requests.RequestException:
                pass
        time.sleep(0.2)
    raise TimeoutError(f"make demo not running a task after {STARTUP_TIMEOUT}s:\n{terminal.text[-4000:]}")


def test_ctrl_c_stops_make_demo_and_everything_it_started(tmp_path):
    home, port = tmp_path / "airflow", free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(_INHERITED_PREFIXES)}
    env.update(
        AIRFLOW_HOME=str(home),
        ATLAS_HOME=str(tmp_path / "atlas"),
        AIRFLOW__API__PORT=str(port),
        AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT=str(free_port()),
        AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT=str(free_port()),
        AIRFLOW__CORE__PARALLELISM="2",
        DEMO_STOP_TIMEOUT="15",  # the same clean-then-SIGKILL path as the default 30 s, sooner
        TERM="dumb",
    )
    terminal = Terminal()
    proc = subprocess.Popen(
        # -o: the venv under test is the one running this test; a test never reinstalls it.
        ["make", "--no-print-directory", "-C", str(REPO), "-o", ".venv/bin/.installed", "demo"],
        env=env,
        stdin=terminal.slave,
        stdout=terminal.slave,
        stderr=terminal.slave,
        start_new_session=True,
        preexec_fn=_take_terminal,
    )
    terminal.start_reading()
    sessions = {proc.pid}  # make's, with the terminal; the demo's own sessions join on sight
    try:
        wait_until_busy(proc, terminal, port, home, sessions)

        terminal.ctrl_c()
        try:
            proc.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            pytest.fail(f"make demo still running {STOP_TIMEOUT}s after Ctrl-C:\n{terminal.text[-4000:]}")
        deadline = time.monotonic() + 10  # SIGKILLed processes may take a moment to be gone
        while (left := demo_processes(sessions, home)) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not left, f"left running after Ctrl-C: {left}\n{terminal.text[-4000:]}"
        assert port_is_free(port)
    finally:
        for pid in demo_processes(sessions, home):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        terminal.close()
