"""Delete detection on a 1M-row table: its time against ``count(*)`` of both sides, in the same run.

Run through ``bash bench/run.sh deletes`` (the throw-away AIRFLOW_HOME, ATLAS_HOME and env-var
connections of ``make bench``). For each source it builds the ``events`` table (bench/dataset.py),
registers a connector with ``config.detect_deletes``, loads the PostgreSQL warehouse with ``atlas sync
--full-refresh``, deletes ``--deletes`` scattered rows in the source, and then:

* runs ``atlas sync`` (the incremental run that marks them) and checks that exactly the deleted ids
  are marked;
* ``--repeat`` times, alternately: ``count(*)`` on the source, ``count(*)`` on the warehouse (each on
  an open connection), and the detection step alone (:func:`atlas.sync.sync_deletes`, connections
  included), after clearing the marks; the medians count.

The target: detection <= 2 x (count(*) source + count(*) warehouse).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shlex
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import dataset
from measure import machine, write_results

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
TARGET_RATIO = 2.0
SOURCES = {"postgresql": ("bench_src_pg", "PostgreSQL"), "mysql": ("bench_src_mysql", "MariaDB")}


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def timed(action: Callable[[], Any]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


class DeleteBench:
    def __init__(self, args: argparse.Namespace, servers: dataset.Servers) -> None:
        self.args, self.servers = args, servers
        self.env = dict(os.environ, PGTZ="UTC")

    def atlas(self, *argv: str) -> str:
        done = subprocess.run(
            [str(BIN / "atlas"), *argv], env=self.env, cwd=REPO, capture_output=True, text=True, check=False
        )
        if done.returncode != 0:
            raise SystemExit(f"atlas {shlex.join(argv)} failed:\n{done.stderr[-3000:]}")
        return done.stdout

    def register(self, key: str) -> str:
        conn_id, _ = SOURCES[key]
        name = f"bench_del_{'pg' if key == 'postgresql' else 'mysql'}"
        body = {
            "source_type": key,
            "source_name": name,
            "conn_id": conn_id,
            "incremental": True,
            "timestamp_column": "updated_at",
            "target_table": f"public.{name}_events",
            "config": {"table": dataset.TABLE, "batch_size": 50_000, "detect_deletes": True},
        }
        path = Path(self.args.workdir) / f"{name}.json"
        path.write_text(json.dumps(body))
        exists = any(line.split()[:1] == [name] for line in self.atlas("connectors", "list").splitlines())
        self.atlas("connectors", *(("update", name) if exists else ("add",)), str(path))
        return name

    # ------------------------------------------------------------------------------- the two sides
    def source_count(self, key: str) -> Callable[[], Any]:
        if key == "postgresql":
            conn = self.servers.pg(self.servers.source_db)
            return lambda: conn.execute("SELECT count(*) FROM events").fetchone()
        my = self.servers.mysql()
        cur = my.cursor()
        return lambda: (cur.execute("SELECT count(*) FROM events"), cur.fetchall())

    def delete_scattered(self, key: str, rows: int) -> list[int]:
        ids = sorted(random.Random(20261201).sample(range(1, rows + 1), self.args.deletes))
        if key == "postgresql":
            with self.servers.pg(self.servers.source_db) as conn:
                conn.execute("DELETE FROM events WHERE id = ANY(%s)", (ids,))
        else:
            my = self.servers.mysql()
            try:
                my.cursor().executemany("DELETE FROM events WHERE id = %s", [(i,) for i in ids])
            finally:
                my.close()
        return ids

    def scenario(self, key: str) -> dict[str, Any]:
        from atlas.destinations import default_destination
        from atlas.registry import ConnectorRegistry
        from atlas.sources import build_source
        from atlas.sync import sync_deletes

        label = SOURCES[key][1]
        name = self.register(key)
        log(f"{label}: full refresh into the warehouse (untimed) ...")
        self.atlas("sync", name, "--full-refresh")
        deleted = self.delete_scattered(key, self.args.rows)
        log(f"{label}: deleted {len(deleted)} scattered rows in the source; `atlas sync` ...")
        started = time.perf_counter()
        summary = json.loads(self.atlas("sync", name))
        sync_seconds = time.perf_counter() - started
        table = f"public.{name}_events"
        wh = self.servers.pg(self.servers.warehouse_db)
        marked = [r[0] for r in wh.execute(f"SELECT id FROM {table} WHERE _atlas_deleted_at IS NOT NULL ORDER BY 1")]
        exact = marked == deleted and summary["rows_deleted"] == len(deleted)
        log(f"  rows_deleted {summary['rows_deleted']}, marked ids {'exactly the deleted ones' if exact else 'WRONG'}")

        spec = ConnectorRegistry.default().get(name)
        source, destination = build_source(spec), default_destination()
        target = destination.target(spec.target_table, spec.source_name, dataset.TABLE)
        schema = source.discover(dataset.TABLE)
        count_source = self.source_count(key)
        times: dict[str, list[float]] = {"count_source": [], "count_warehouse": [], "detect": []}
        for attempt in range(self.args.repeat):
            wh.execute(f"UPDATE {table} SET _atlas_deleted_at = NULL WHERE _atlas_deleted_at IS NOT NULL")
            wh.execute(f"VACUUM {table}")
            times["count_source"].append(timed(count_source))
            times["count_warehouse"].append(timed(lambda: wh.execute(f"SELECT count(*) FROM {table}").fetchone()))
            started = time.perf_counter()
            check = sync_deletes(spec, dataset.TABLE, source, destination, target, schema, compare=True)
            times["detect"].append(time.perf_counter() - started)
            exact = exact and check.marked == len(deleted)
            log(
                f"  run {attempt + 1}: count(*) source {times['count_source'][-1]:.3f} s, warehouse "
                f"{times['count_warehouse'][-1]:.3f} s; detection {times['detect'][-1]:.3f} s "
                f"({check.levels} levels, {check.leaf_keys} keys fetched, {check.marked} marked)"
            )
        medians = {k: statistics.median(v) for k, v in times.items()}
        counts = medians["count_source"] + medians["count_warehouse"]
        return {
            "source": label,
            "rows": self.args.rows,
            "deletes": len(deleted),
            "exact": exact,
            "atlas_sync_wall_seconds": round(sync_seconds, 3),
            "all_seconds": times,
            "median_seconds": {k: round(v, 4) for k, v in medians.items()},
            "ratio": round(medians["detect"] / counts, 2),
        }

    def main(self) -> int:
        dataset.ensure_databases(self.servers)
        self.atlas("registry", "init")
        log(f"generating {self.args.rows:,} rows in PostgreSQL {self.servers.source_db}.events ...")
        dataset.generate_pg_source(self.servers, self.args.rows)
        if "mysql" in self.args.sources:
            log("copying them into MariaDB ...")
            dataset.generate_mysql_source(self.servers, self.args.workdir)
        load = [round(x, 2) for x in os.getloadavg()]
        results = [self.scenario(key) for key in self.args.sources]
        print()
        print(
            "| source -> PostgreSQL warehouse | rows | deletes | count(*) source | count(*) warehouse | detection "
            "| detection / (both counts) | exactly the deleted rows marked |"
        )
        print("|---|---:|---:|---:|---:|---:|---:|---|")
        for r in results:
            m = r["median_seconds"]
            print(
                f"| {r['source']} | {r['rows']:,} | {r['deletes']} | {m['count_source']:.3f} s | "
                f"{m['count_warehouse']:.3f} s | {m['detect']:.3f} s | **{r['ratio']:.2f}x** | "
                f"{'yes' if r['exact'] else 'NO'} |"
            )
        print()
        for r in results:
            met = r["ratio"] <= TARGET_RATIO
            print(
                f"{'PASS' if met else 'MISS'}  {r['source']}: detection <= {TARGET_RATIO}x (count(*) source + "
                f"count(*) warehouse): {r['ratio']:.2f}x"
            )
        path = write_results(
            REPO / "bench" / "results",
            {
                "command": "bash bench/run.sh deletes " + shlex.join(self.args.cli),
                "machine": machine(),
                "load_average_at_start": load,
                "load_average_at_end": [round(x, 2) for x in os.getloadavg()],
                "results": results,
            },
        )
        print(f"\nload average at start {load}, at end {[round(x, 2) for x in os.getloadavg()]}")
        print(f"results: {path.relative_to(REPO)}")
        return 0 if all(r["exact"] for r in results) else 1


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=lambda s: int(s.replace("_", "")), default=1_000_000)
    parser.add_argument("--deletes", type=int, default=100, help="scattered rows deleted in the source")
    parser.add_argument("--sources", type=lambda s: s.split(","), default=["postgresql"], help="postgresql,mysql")
    parser.add_argument("--repeat", type=int, default=5, help="timed rounds; the medians count")
    parser.add_argument("--workdir", required=True)
    args = parser.parse_args(argv)
    args.cli = [a for i, a in enumerate(argv) if a != "--workdir" and (i == 0 or argv[i - 1] != "--workdir")]
    if set(args.sources) - set(SOURCES):
        parser.error(f"unknown sources; choose from {sorted(SOURCES)}")
    return args


if __name__ == "__main__":
    arguments = parse_args(sys.argv[1:])
    sys.exit(DeleteBench(arguments, dataset.Servers()).main())
