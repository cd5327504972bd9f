"""Full and incremental sync of a 1M-row table: Atlas against a raw COPY pipe and Airflow's GenericTransfer.

Run through ``make bench`` / ``bash bench/run.sh`` (which prepares a throw-away AIRFLOW_HOME, ATLAS_HOME
and the env-var connections this script expects). Every tool runs in the same invocation, on the same
data, as a child process whose wall time and peak RSS (whole process tree) are measured; every copy is
then checked value by value with per-column checksums, source against target.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dataset
from measure import CommandFailed, Measurement, format_table, machine, run_measured, write_results
from psycopg import sql

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
WAREHOUSE_CONN_ID = "atlas_warehouse"


@dataclass(frozen=True)
class Source:
    """One source engine in the benchmark and the targets Atlas must meet against its pipe."""

    key: str  # the connector's source_type
    label: str
    conn_id: str
    full_ratio_target: float

    @property
    def source_name(self) -> str:
        return f"bench_{self.short}"

    @property
    def short(self) -> str:
        return "pg" if self.key == "postgresql" else "mysql"

    @property
    def dag_id(self) -> str:
        return f"atlas__{self.source_name}"

    def target(self, tool: str) -> str:
        return f"{tool}_{self.short}_events"


SOURCES = {
    "postgresql": Source("postgresql", "PostgreSQL", "bench_src_pg", 1.5),
    "mysql": Source("mysql", "MariaDB", "bench_src_mysql", 2.0),
}
INCREMENTAL_SHARE_TARGET = 0.05
RSS_TARGET_MB = 300.0


def _copy_text(column: str) -> str:
    """A MariaDB expression rendering a text value in PostgreSQL COPY text format (escapes, NULL as \\N)."""
    escaped = (
        f"REPLACE(REPLACE(REPLACE(REPLACE(`{column}`, '\\\\', '\\\\\\\\'), '\\t', '\\\\t'), '\\n', '\\\\n'), "
        f"'\\r', '\\\\r')"
    )
    return f"IFNULL({escaped}, '\\\\N')"


def _copy_plain(expression: str) -> str:
    return f"IFNULL({expression}, '\\\\N')"


#: The MariaDB reference: a SELECT that emits COPY text, one column per row, printed raw.
MYSQL_COPY_SELECT = (
    "SET time_zone = '+00:00';\n"
    "SELECT CONCAT_WS(CHAR(9), id, account_id, "
    + ", ".join(
        [
            _copy_plain("amount_cents"),
            _copy_text("name"),
            _copy_text("note"),
            _copy_plain("price"),
            _copy_text("payload"),
            _copy_plain("active"),
            "DATE_FORMAT(created_at, '%Y-%m-%d %H:%i:%s.%f')",
            "DATE_FORMAT(updated_at, '%Y-%m-%d %H:%i:%s.%f')",
        ]
    )
    + ") FROM events;\n"
)


# sync.py's closing log line, e.g. "bench_pg/events: 1000 rows read, 1000 written in 0.4s (2315 rows/s)".
_SYNC_DONE = re.compile(r": (\d+) rows read, (\d+) written in ([\d.]+)s")
_SUMMARY_SECONDS = re.compile(r'^\s*"seconds": ([\d.]+),?$', re.MULTILINE)


def engine_figures(log: str) -> dict[str, Any]:
    """Rows and seconds of the sync itself (``sync_stream``), from an Atlas run's output.

    The difference to the wall time is the process's start: interpreter, Airflow imports, connection
    and registry look-ups (and for ``airflow dags test``, parsing the DAG file and running the DagRun).
    """
    done = _SYNC_DONE.findall(log)
    if not done:
        return {}
    rows_read, rows_written, seconds = done[-1]
    precise = _SUMMARY_SECONDS.findall(log)  # the CLI prints the summary with milliseconds
    return {
        "engine_seconds": float(precise[-1]) if precise else float(seconds),
        "rows_read": int(rows_read),
        "rows_written": int(rows_written),
    }


class Bench:
    def __init__(self, args: argparse.Namespace, servers: dataset.Servers, workdir: Path) -> None:
        self.args = args
        self.servers = servers
        self.workdir = workdir
        self.results: list[dict[str, Any]] = []
        self.checks: list[dict[str, Any]] = []
        self._source_checksums: dict[str, dict[str, Any]] = {}
        self.env = dict(os.environ, PGTZ="UTC")
        self.started_at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        # Other work on the machine skews absolute figures; ratios come from the same run for that reason.
        self.load_at_start = [round(x, 2) for x in os.getloadavg()]

    # ----------------------------------------------------------------------------------- plumbing
    def log(self, message: str) -> None:
        print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)

    def run(
        self,
        name: str,
        argv: list[str] | str,
        rows: int,
        *,
        scale: int,
        source: Source,
        tool: str,
        mode: str,
        prepare: Callable[[], None] | None = None,
        target: tuple[str, str] | None = None,
        repeat: int = 1,
    ) -> Measurement:
        """Measure ``argv`` ``repeat`` times (``prepare`` before each, untimed), keep the median run.

        ``target`` (schema, table) is then checksummed against the source.
        """
        runs: list[Measurement] = []
        for attempt in range(repeat):
            if prepare:
                prepare()
            self.checkpoint()
            log_path = self.workdir / "logs" / f"{scale}-{source.short}-{tool}-{mode}-{attempt}.log"
            self.log(f"{source.label} {scale:,} rows: {name} ({mode}) ...")
            runs.append(run_measured(name, argv, rows=rows, log_path=log_path, env=self.env, cwd=str(REPO)))
            self.log(f"  {runs[-1].seconds:.2f} s, peak RSS {runs[-1].peak_rss_mb:.0f} MB")
        chosen = sorted(runs, key=lambda m: m.seconds)[len(runs) // 2]
        chosen.extra = {
            "scale": scale,
            "source": source.key,
            "tool": tool,
            "mode": mode,
            "all_seconds": [m.seconds for m in runs],
            "all_peak_rss_mb": [m.peak_rss_mb for m in runs],
        }
        if tool.startswith("atlas"):
            chosen.extra.update(engine_figures(Path(chosen.log).read_text(errors="replace")))
        if target is not None:
            mismatched = self.verify(source, *target)
            chosen.extra["exact"] = not mismatched
            chosen.extra["mismatched"] = mismatched
        self.results.append(chosen.to_dict())
        return chosen

    def checkpoint(self) -> None:
        """Start every timed run from the same state: no pending checkpoint in the warehouse."""
        with self.servers.pg(self.servers.warehouse_db) as conn:
            conn.execute("CHECKPOINT")

    def source_checksums(self, source: Source) -> dict[str, Any]:
        """The source's checksums, computed once per state of the data (generate/touch forget them)."""
        if source.key not in self._source_checksums:
            self._source_checksums[source.key] = self._compute_source_checksums(source)
        return self._source_checksums[source.key]

    def _compute_source_checksums(self, source: Source) -> dict[str, Any]:
        if source.key == "postgresql":
            with self.servers.pg(self.servers.source_db) as conn:
                return dataset.pg_checksums(conn, dataset.TABLE)
        conn = self.servers.mysql()
        try:
            return dataset.mysql_checksums(conn)
        finally:
            conn.close()

    def verify(self, source: Source, schema: str, table: str) -> list[str]:
        expected = self.source_checksums(source)
        with self.servers.pg(self.servers.warehouse_db) as conn:
            actual = dataset.pg_checksums(conn, table, schema)
        mismatched = dataset.compare(expected, actual)
        status = "exact" if not mismatched else f"MISMATCH in {mismatched}"
        self.log(f"  checksums {schema}.{table} vs source ({expected['rows']:,} rows): {status}")
        return mismatched

    def fresh_target(self, table: str, *, boolean_as_smallint: bool = False) -> Callable[[], None]:
        """An empty copy of the source's table in the warehouse, made before the timed run."""

        def prepare() -> None:
            with self.servers.pg(self.servers.warehouse_db) as conn:
                dataset.create_pg_table(conn, table)
                if boolean_as_smallint:
                    conn.execute(
                        sql.SQL("ALTER TABLE {} ALTER COLUMN active TYPE smallint USING active::int").format(
                            sql.Identifier(table)
                        )
                    )

        return prepare

    # ----------------------------------------------------------------------------------- data
    def generate(self, rows: int) -> None:
        self.log(f"generating {rows:,} rows in PostgreSQL {self.servers.source_db}.events ...")
        started = time.perf_counter()
        self._source_checksums.clear()
        dataset.generate_pg_source(self.servers, rows)
        if "mysql" in self.args.sources:
            self.log("copying them into MariaDB ...")
            dataset.generate_mysql_source(self.servers, str(self.workdir))
            pg, my = self.source_checksums(SOURCES["postgresql"]), self.source_checksums(SOURCES["mysql"])
            differing = dataset.compare(pg, my)
            if differing:
                raise SystemExit(f"the MariaDB source differs from the PostgreSQL source in {differing}")
            self.log("  both sources hold identical values (per-column checksums agree)")
        self.log(f"  data ready in {time.perf_counter() - started:.1f} s")

    # ----------------------------------------------------------------------------------- tools
    def pipe_command(self, source: Source, table: str) -> str:
        load = shlex.join([*self.servers.psql(self.servers.warehouse_db), "-c", f"\\copy {table} FROM STDIN"])
        if source.key == "postgresql":
            dump = shlex.join(
                [*self.servers.psql(self.servers.source_db), "-c", "\\copy (SELECT * FROM events) TO STDOUT"]
            )
            return f"{dump} | {load}"
        select_file = self.workdir / "mysql-copy-select.sql"
        select_file.write_text(MYSQL_COPY_SELECT)
        dump = shlex.join([*self.servers.mariadb(), "--quick", "--batch", "--raw", "--skip-column-names"])
        return f"{dump} < {shlex.quote(str(select_file))} | {load}"

    def atlas(self, *args: str) -> list[str]:
        return [str(BIN / "atlas"), *args]

    def register_connectors(self) -> None:
        subprocess.run(self.atlas("registry", "init"), check=True, env=self.env, cwd=REPO)
        for source in (SOURCES[k] for k in self.args.sources):
            body = {
                "source_type": source.key,
                "source_name": source.source_name,
                "conn_id": source.conn_id,
                "incremental": True,
                "timestamp_column": "updated_at",
                "target_table": f"public.{source.target('atlas')}",
                "config": {"table": dataset.TABLE, "batch_size": self.args.batch_size},
            }
            path = self.workdir / f"{source.source_name}.json"
            path.write_text(json.dumps(body, indent=2))
            subprocess.run(self.atlas("connectors", "add", str(path)), check=True, env=self.env, cwd=REPO)

    def touch(self, source: Source) -> Callable[[], None]:
        def prepare() -> None:
            changed = (dataset.touch_pg_source if source.key == "postgresql" else dataset.touch_mysql_source)(
                self.servers
            )
            self._source_checksums.pop(source.key, None)
            self.log(f"  touched {changed:,} source rows (updated_at bumped)")

        return prepare

    # ----------------------------------------------------------------------------------- scenarios
    def scenario(self, source: Source, scale: int, *, complete: bool) -> None:
        """Pipe, GenericTransfer, Atlas CLI and DAG: full then incremental.

        ``complete`` (the main table size): every tool, every copy checksummed. Otherwise (the extra
        sizes for memory flatness) the pipe and the Atlas CLI only, checksummed with ``--verify-all``.
        """
        verify = complete or self.args.verify_all
        repeat = self.args.repeat
        ref = source.target("ref")
        self.run(
            "pipe",
            self.pipe_command(source, ref),
            scale,
            scale=scale,
            source=source,
            tool="pipe",
            mode="full",
            prepare=self.fresh_target(ref),
            target=("public", ref) if verify else None,
            repeat=repeat,
        )
        if complete and not self.args.skip_generic_transfer:
            gt = source.target("gt")
            query = "SELECT * FROM events"
            self.run(
                "GenericTransfer",
                [
                    str(BIN / "python"),
                    str(REPO / "bench" / "generic_transfer.py"),
                    source.conn_id,
                    WAREHOUSE_CONN_ID,
                    gt,
                    query,
                ],
                scale,
                scale=scale,
                source=source,
                tool="generic_transfer",
                mode="full",
                # GenericTransfer converts no type: MariaDB's TINYINT(1) arrives as an int, which a
                # boolean column refuses, so its table gets a smallint there (compared as 0/1 all the same).
                prepare=self.fresh_target(gt, boolean_as_smallint=source.key == "mysql"),
                target=("public", gt),
            )
        if self.args.skip_atlas:
            return
        atlas_target = ("public", source.target("atlas")) if verify else None
        changed = scale // dataset.UPDATE_MODULUS
        self.run(
            "atlas sync",
            self.atlas("sync", source.source_name, "--full-refresh"),
            scale,
            scale=scale,
            source=source,
            tool="atlas_cli",
            mode="full",
            target=atlas_target,
            repeat=repeat,
        )
        self.run(
            "atlas sync",
            self.atlas("sync", source.source_name),
            changed,
            scale=scale,
            source=source,
            tool="atlas_cli",
            mode="incremental",
            prepare=self.touch(source),
            target=atlas_target,
            repeat=repeat,
        )
        if complete and not self.args.skip_dag:
            airflow = str(BIN / "airflow")
            self.run(
                "airflow dags test",
                [airflow, "dags", "test", source.dag_id, "-c", json.dumps({"full_refresh": True})],
                scale,
                scale=scale,
                source=source,
                tool="atlas_dag",
                mode="full",
                target=atlas_target,
            )
            self.run(
                "airflow dags test",
                [airflow, "dags", "test", source.dag_id],
                changed,
                scale=scale,
                source=source,
                tool="atlas_dag",
                mode="incremental",
                prepare=self.touch(source),
                target=atlas_target,
            )

    def main(self) -> int:
        dataset.ensure_databases(self.servers)
        if not self.args.skip_atlas:
            self.register_connectors()
        scales = [self.args.rows, *[r for r in self.args.rss_rows if r != self.args.rows]]
        failed: str | None = None
        try:
            for scale in scales:
                self.generate(scale)
                for key in self.args.sources:
                    self.scenario(SOURCES[key], scale, complete=scale == self.args.rows)
        except CommandFailed as exc:
            failed = str(exc)
            print(failed, file=sys.stderr)
        return self.report(failed)

    # ----------------------------------------------------------------------------------- report
    def _find(self, scale: int, source: str, tool: str, mode: str) -> dict[str, Any] | None:
        for r in self.results:
            x = r["extra"]
            if (x["scale"], x["source"], x["tool"], x["mode"]) == (scale, source, tool, mode):
                return r
        return None

    def report(self, failed: str | None) -> int:
        rows = []
        for r in self.results:
            x = r["extra"]
            pipe = self._find(x["scale"], x["source"], "pipe", "full")
            full = self._find(x["scale"], x["source"], x["tool"], "full")
            engine = x.get("engine_seconds")
            if x["mode"] == "full":
                x["ratio"] = r["seconds"] / pipe["seconds"] if pipe else None
                x["engine_ratio"] = engine / pipe["seconds"] if pipe and engine is not None else None
                shown = [f"{v:.2f}x pipe" if v is not None else "" for v in (x["ratio"], x["engine_ratio"])]
            else:
                x["ratio"] = r["seconds"] / full["seconds"] if full else None
                full_engine = full["extra"].get("engine_seconds") if full else None
                x["engine_ratio"] = engine / full_engine if engine is not None and full_engine else None
                shown = [f"{100 * v:.1f} % of full" if v is not None else "" for v in (x["ratio"], x["engine_ratio"])]
            rows.append(
                [
                    SOURCES[x["source"]].label,
                    f"{x['scale']:,}",
                    x["tool"],
                    x["mode"],
                    f"{r['rows']:,}",
                    f"{r['seconds']:.2f}",
                    f"{r['rows_per_second']:,}",
                    f"{r['peak_rss_mb']:.0f} / {r['peak_pss_mb']:.0f}",
                    f"{r['cpu_seconds']:.1f}",
                    shown[0],
                    "" if engine is None else f"{engine:.2f}",
                    shown[1],
                    {True: "yes", False: "NO " + ",".join(x.get("mismatched", []))}.get(x.get("exact"), "-"),
                ]
            )
        table = format_table(
            [
                "source",
                "table rows",
                "tool",
                "sync",
                "rows moved",
                "wall s",
                "rows/s",
                "peak RSS / PSS MB",
                "CPU s",
                "wall ratio",
                "sync s",
                "sync-only ratio",
                "exact",
            ],
            rows,
        )
        self.evaluate_targets()
        payload = {
            "started_at": self.started_at,
            "command": "bash bench/run.sh " + shlex.join(self.args.cli),
            "machine": {**machine(), **self.versions()},
            "load_average_at_start": self.load_at_start,
            "load_average_at_end": [round(x, 2) for x in os.getloadavg()],
            "options": {k: str(v) if isinstance(v, Path) else v for k, v in vars(self.args).items()},
            "results": self.results,
            "table": table,
            "targets": self.checks,
            "failed": failed,
        }
        path = write_results(REPO / "bench" / "results", payload)
        print()
        print(table)
        print()
        for c in self.checks:
            print(f"{'PASS' if c['met'] else 'MISS'}  {c['target']}: {c['measured']}")
        print(f"\nload average at start {self.load_at_start}, at end {payload['load_average_at_end']}")
        print(f"results: {path.relative_to(REPO)}   logs: {self.workdir / 'logs'}")
        return 1 if failed else 0

    def check(self, target: str, measured: str, met: bool) -> None:
        self.checks.append({"target": target, "measured": measured, "met": met})

    def evaluate_targets(self) -> None:
        main = self.args.rows
        for key in self.args.sources:
            source = SOURCES[key]
            pipe = self._find(main, key, "pipe", "full")
            full = self._find(main, key, "atlas_cli", "full")
            inc = self._find(main, key, "atlas_cli", "incremental")
            if pipe and full:
                ratio = full["seconds"] / pipe["seconds"]
                self.check(
                    f"{source.label}->PostgreSQL full sync <= {source.full_ratio_target}x pipe (wall, process start "
                    "included)",
                    f"{ratio:.2f}x ({full['seconds']:.2f} s vs {pipe['seconds']:.2f} s)",
                    ratio <= source.full_ratio_target,
                )
                if full["extra"].get("engine_seconds") is not None:
                    engine = full["extra"]["engine_seconds"]
                    self.check(
                        f"{source.label}->PostgreSQL full sync <= {source.full_ratio_target}x pipe (sync only)",
                        f"{engine / pipe['seconds']:.2f}x ({engine:.2f} s vs {pipe['seconds']:.2f} s)",
                        engine / pipe["seconds"] <= source.full_ratio_target,
                    )
            if full and inc:
                for label, field in (("wall, process start included", "seconds"), ("sync only", "engine_seconds")):
                    a = inc["seconds"] if field == "seconds" else inc["extra"].get(field)
                    b = full["seconds"] if field == "seconds" else full["extra"].get(field)
                    if a is None or not b:
                        continue
                    self.check(
                        f"{source.label} incremental (1 % changed) <= {INCREMENTAL_SHARE_TARGET:.0%} of full ({label})",
                        f"{a / b:.1%} ({a:.2f} s vs {b:.2f} s)",
                        a / b <= INCREMENTAL_SHARE_TARGET,
                    )
            atlas_runs = [
                r for r in self.results if r["extra"]["source"] == key and r["extra"]["tool"].startswith("atlas")
            ]
            for tool in ("atlas_cli", "atlas_dag"):
                runs = [r for r in atlas_runs if r["extra"]["tool"] == tool]
                if runs:
                    rss, pss = max(r["peak_rss_mb"] for r in runs), max(r["peak_pss_mb"] for r in runs)
                    self.check(
                        f"{source.label} {tool} peak RSS <= {RSS_TARGET_MB:.0f} MB (process tree)",
                        f"{rss:.0f} MB (PSS {pss:.0f} MB)",
                        rss <= RSS_TARGET_MB,
                    )
            by_scale = {
                r["extra"]["scale"]: r["peak_rss_mb"]
                for r in atlas_runs
                if r["extra"]["tool"] == "atlas_cli" and r["extra"]["mode"] == "full"
            }
            if len(by_scale) > 1:
                low, high = min(by_scale.values()), max(by_scale.values())
                shown = ", ".join(f"{s:,} rows: {v:.0f} MB" for s, v in sorted(by_scale.items()))
                # "Flat": the largest table needs at most 20 % (or 30 MB) more than the smallest.
                self.check(
                    f"{source.label} Atlas RSS flat across table sizes", shown, high - low <= max(30.0, 0.2 * low)
                )
            exact = [r for r in self.results if r["extra"]["source"] == key and "exact" in r["extra"]]
            inexact = [f"{r['extra']['tool']}/{r['extra']['mode']}" for r in exact if not r["extra"]["exact"]]
            atlas_inexact = [name for name in inexact if name.startswith("atlas")]
            self.check(
                f"{source.label} Atlas copies exact (per-column checksums)",
                "all exact" if not inexact else f"mismatch: {', '.join(inexact)}",
                not atlas_inexact,
            )

    def versions(self) -> dict[str, Any]:
        with self.servers.pg("postgres") as conn:
            pg = conn.execute("SHOW server_version").fetchone()[0]
        my = self.servers.mysql()
        try:
            with my.cursor() as cur:
                cur.execute("SELECT VERSION()")
                mariadb = cur.fetchone()[0]
        finally:
            my.close()
        from importlib.metadata import version

        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=REPO)
        return {
            "postgresql": pg,
            "mariadb": mariadb,
            "airflow": version("apache-airflow"),
            "common_sql_provider": version("apache-airflow-providers-common-sql"),
            "git_commit": commit.stdout.strip(),
        }


def _int_list(text: str) -> list[int]:
    return [int(x.replace("_", "")) for x in text.split(",") if x.strip()]


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--rows",
        type=lambda s: int(s.replace("_", "")),
        default=1_000_000,
        help="table size of the full comparison (all tools)",
    )
    parser.add_argument(
        "--rss-rows",
        type=_int_list,
        default=[],
        help="more table sizes (comma-separated) measured with the pipe and the Atlas CLI only, "
        "to show that Atlas's memory stays flat",
    )
    parser.add_argument(
        "--sources", type=lambda s: s.split(","), default=["postgresql", "mysql"], help="postgresql,mysql"
    )
    parser.add_argument("--repeat", type=int, default=1, help="runs of the pipe and the Atlas CLI; the median counts")
    parser.add_argument("--batch-size", type=int, default=50_000, help="the Atlas connectors' config.batch_size")
    parser.add_argument(
        "--verify-all", action="store_true", help="checksum the copies of the extra sizes too (slow at 5M rows)"
    )
    parser.add_argument("--skip-generic-transfer", action="store_true")
    parser.add_argument("--skip-atlas", action="store_true", help="reference tools only")
    parser.add_argument("--skip-dag", action="store_true", help="no `airflow dags test` runs")
    parser.add_argument("--workdir", type=Path, required=True, help="logs and scratch files")
    args = parser.parse_args(argv)
    args.cli = [a for i, a in enumerate(argv) if a != "--workdir" and (i == 0 or argv[i - 1] != "--workdir")]
    unknown = set(args.sources) - set(SOURCES)
    if unknown:
        parser.error(f"unknown sources {sorted(unknown)}; choose from {sorted(SOURCES)}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    return Bench(args, dataset.Servers(), args.workdir).main()


if __name__ == "__main__":
    sys.exit(main())
