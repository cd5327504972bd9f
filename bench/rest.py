"""REST source overhead: Atlas reading 100 pages x 100 records from a local API vs a plain requests loop.

Both clients fetch the same pages from the same local server (a separate process serving pre-encoded
JSON, so the server costs the same for both) in the same invocation, alternately, several times.
The reference loop does the minimum a hand-written sync does: GET, decode the JSON, take the record
list, follow offsets. Atlas additionally paces, checks, infers types, spools,
converts rows to typed tuples and batches them. Then the same API is synced into the warehouse with
``atlas.sync.sync_stream`` (embedded SQLite; ``--postgres`` adds a throw-away PostgreSQL database),
and rows/s are reported. The figures: wall time (median and best of the repeats; this box is shared,
so the best is the least disturbed) and the client process's CPU time (median), each as a ratio and as
Atlas's overhead per page.

    .venv/bin/python bench/rest.py [--pages 100] [--page-size 100] [--repeat 9] [--postgres]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import platform
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

_HOME = Path(tempfile.mkdtemp(prefix="atlas-bench-rest-"))
os.environ.setdefault("AIRFLOW_HOME", str(_HOME / "airflow"))
os.environ.setdefault("ATLAS_HOME", str(_HOME / "atlas"))
os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
os.environ.setdefault("_AIRFLOW_PROCESS_CONTEXT", "server")

CONN_ID = "bench_rest_api"
EPOCH = datetime(2026, 1, 1, tzinfo=UTC)


def record(i: int) -> dict:
    return {
        "id": i,
        "name": f"record number {i}",
        "email": f"user{i}@example.com",
        "score": i * 0.25,
        "count": i % 1000,
        "active": i % 2 == 0,
        "created_at": (EPOCH + timedelta(seconds=i)).isoformat().replace("+00:00", "Z"),
        "updated_at": (EPOCH + timedelta(seconds=2 * i)).isoformat().replace("+00:00", "Z"),
        "owner": {"login": f"owner{i % 50}", "id": i % 50, "site_admin": False},
        "tags": ["alpha", "beta"] if i % 3 else [],
    }


def serve(port_queue, pages: int, page_size: int) -> None:
    """The API: ``GET /items?offset=&limit=`` -> ``{"items": [...], "total": n}`` from pre-encoded pages."""
    total = pages * page_size
    bodies = {
        offset: json.dumps({"items": [record(i) for i in range(offset, min(offset + page_size, total))],
                            "total": total}).encode()
        for offset in range(0, total + page_size, page_size)
    }

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # else Nagle + delayed ACK add ~40 ms to every response

        def do_GET(self):  # noqa: N802 (http.server's naming)
            query = parse_qs(urlsplit(self.path).query)
            body = bodies.get(int(query.get("offset", ["0"])[0]), b'{"items": [], "total": 0}')
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    port_queue.put(server.server_address[1])
    server.serve_forever()


def requests_loop(base_url: str, page_size: int) -> int:
    """The reference: what a hand-written loop over the same API does."""
    import requests

    rows, offset = 0, 0
    with requests.Session() as session:
        while True:
            response = session.get(f"{base_url}/items", params={"offset": offset, "limit": page_size}, timeout=30)
            response.raise_for_status()
            items = response.json()["items"]
            rows += len(items)
            offset += len(items)
            if len(items) < page_size:
                return rows


def spec(page_size: int, source_name: str = "bench_rest"):
    from atlas.models import parse_spec

    return parse_spec({
        "source_type": "rest_api",
        "source_name": source_name,
        "conn_id": CONN_ID,
        "config": {
            "endpoint": "/items",
            "record_path": "items",
            "primary_key": "id",
            "pagination": {"type": "offset", "page_size": page_size, "total_path": "total"},
        },
    })


def atlas_read(page_size: int) -> int:
    from atlas.sources import build_source
    from atlas.sources.base import ReadRequest

    source = build_source(spec(page_size))
    rows = 0
    with source.read(source.streams()[0], ReadRequest()) as read:
        for batch in read.batches():
            rows += len(batch)
    return rows


def timed(fn, *args) -> tuple[float, float]:
    """Wall seconds and CPU seconds of this process (the server runs in another one)."""
    wall, cpu = time.perf_counter(), time.process_time()
    fn(*args)
    return time.perf_counter() - wall, time.process_time() - cpu


def sync_into(destination, page_size: int, label: str) -> dict:
    from atlas.registry import ConnectorRegistry
    from atlas.sync import sync_stream

    registry = ConnectorRegistry.default()
    registry.upgrade()
    summary = sync_stream(spec(page_size, f"bench_rest_{label}"), "items", registry=registry, destination=destination)
    return {"warehouse": label, "rows": summary.rows_written, "seconds": summary.seconds,
            "rows_per_second": round(summary.rows_written / summary.seconds)}


def postgres_destination():
    import secrets

    import psycopg

    from atlas.destinations.postgres import PostgresDestination

    name = f"atlas_bench_rest_{secrets.token_hex(4)}"
    with psycopg.connect(host="127.0.0.1", user="postgres", dbname="postgres", autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    os.environ["AIRFLOW_CONN_ATLAS_BENCH_WAREHOUSE"] = f"postgres://postgres@127.0.0.1:5432/{name}"

    def drop():
        with psycopg.connect(host="127.0.0.1", user="postgres", dbname="postgres", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    return PostgresDestination("atlas_bench_warehouse"), drop


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pages", type=int, default=100)
    parser.add_argument("--page-size", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=9)
    parser.add_argument("--postgres", action="store_true", help="also sync into a throw-away PostgreSQL database")
    args = parser.parse_args()

    ports = multiprocessing.Queue()
    server = multiprocessing.Process(target=serve, args=(ports, args.pages, args.page_size), daemon=True)
    server.start()
    base_url = f"http://127.0.0.1:{ports.get(timeout=30)}"
    os.environ[f"AIRFLOW_CONN_{CONN_ID.upper()}"] = json.dumps({"conn_type": "http", "host": base_url})
    try:
        expected = args.pages * args.page_size
        # Warm-up: imports (Airflow, the provider), connections, the server's first accept.
        assert requests_loop(base_url, args.page_size) == expected
        assert atlas_read(args.page_size) == expected
        plain, atlas = [], []
        for _ in range(args.repeat):  # alternated, so both see the same machine load
            plain.append(timed(requests_loop, base_url, args.page_size))
            atlas.append(timed(atlas_read, args.page_size))
        figures = {}
        for label, index, pick in [("wall_median", 0, statistics.median), ("wall_min", 0, min),
                                   ("cpu_median", 1, statistics.median)]:
            plain_s, atlas_s = pick(t[index] for t in plain), pick(t[index] for t in atlas)
            figures[label] = {
                "requests_loop_s": round(plain_s, 4),
                "atlas_s": round(atlas_s, 4),
                "ratio": round(atlas_s / plain_s, 2),
                "overhead_ms_per_page": round((atlas_s - plain_s) / args.pages * 1000, 2),
            }

        from atlas.destinations.sqlite import SqliteDestination

        loads = [sync_into(SqliteDestination(Path(os.environ["ATLAS_HOME"]) / "warehouse.db"), args.page_size,
                           "sqlite")]
        if args.postgres:
            destination, drop = postgres_destination()
            try:
                loads.append(sync_into(destination, args.page_size, "postgres"))
            finally:
                drop()
    finally:
        server.terminate()
        server.join()

    result = {
        "command": "python bench/rest.py " + " ".join(sys.argv[1:]),
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, Python "
                   f"{platform.python_version()}, load average {os.getloadavg()[0]:.1f} at the end",
        "pages": args.pages,
        "records_per_page": args.page_size,
        "repeat": args.repeat,
        **figures,
        "overhead_target_ms_per_page": 10,
        "sync_into_warehouse": loads,
    }
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
