"""Run one command and measure it: wall time and peak resident memory of its whole process tree.

Memory is sampled with psutil every few milliseconds as the sum of the RSS of the process and all its
descendants (a shell pipe counts both ends; a task runner counts its workers). Database server
processes are not descendants and are not counted, for any tool alike.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import resource
import subprocess
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import psutil

SAMPLE_SECONDS = 0.05


@dataclass
class Measurement:
    name: str
    command: str
    rows: int
    seconds: float
    peak_rss_mb: float
    returncode: int
    #: user + system CPU of the process tree (not of the database servers): less sensitive than wall
    #: time to other work on the machine.
    cpu_seconds: float = 0.0
    peak_pss_mb: float = 0.0
    log: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds if self.seconds else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "rows_per_second": round(self.rows_per_second)}


class CommandFailed(RuntimeError):
    pass


def _tree_memory(proc: psutil.Process) -> tuple[int, int]:
    """RSS and PSS summed over the tree. RSS counts pages shared by a forked child twice; PSS splits
    them among the sharers, so its sum is what the tree really occupies."""
    rss = pss = 0
    try:
        procs = [proc, *proc.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0, 0
    for p in procs:
        with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            info = p.memory_full_info()
            rss += info.rss
            pss += getattr(info, "pss", info.rss)
    return rss, pss


def run_measured(
    name: str,
    argv: list[str] | str,
    *,
    rows: int,
    log_path: Path,
    env: dict[str, str] | None = None,
    cwd: str | None = None,
) -> Measurement:
    """Run ``argv`` (a string runs under ``bash -c``), output to ``log_path``; raise if it fails."""
    shell = isinstance(argv, str)
    cmd = ["bash", "-o", "pipefail", "-c", argv] if shell else argv
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "wb") as log:
        usage_before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        popen = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=cwd)
        proc = psutil.Process(popen.pid)
        peak = peak_pss = 0
        while popen.poll() is None:
            rss, pss = _tree_memory(proc)
            peak, peak_pss = max(peak, rss), max(peak_pss, pss)
            time.sleep(SAMPLE_SECONDS)
        seconds = time.perf_counter() - started
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = usage.ru_utime + usage.ru_stime - usage_before.ru_utime - usage_before.ru_stime
    shown = argv if shell else " ".join(argv)
    result = Measurement(
        name,
        shown,
        rows,
        round(seconds, 3),
        round(peak / 2**20, 1),
        popen.returncode,
        round(cpu, 2),
        round(peak_pss / 2**20, 1),
        str(log_path),
    )
    if popen.returncode != 0:
        tail = log_path.read_text(errors="replace")[-3000:]
        raise CommandFailed(f"{name} failed with exit code {popen.returncode}; log {log_path}:\n{tail}")
    return result


def machine() -> dict[str, Any]:
    """What the figures were measured on."""
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "python": platform.python_version(),
        "kernel": platform.release(),
    }


def write_results(results_dir: Path, payload: dict[str, Any]) -> Path:
    results_dir.mkdir(parents=True, exist_ok=True)
    path = results_dir / f"{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}.json"
    path.write_text(json.dumps(payload, indent=2, default=str) + "\n")
    return path


def format_table(headers: list[str], rows: list[list[Any]]) -> str:
    """A plain-text table (also valid Markdown) for the terminal and the docs."""
    cells = [[str(h) for h in headers], *[[str(c) for c in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = ["| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |" for row in cells]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)
