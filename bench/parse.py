"""Parse time of the Atlas DAG file with N registered connectors.

    .venv/bin/python bench/parse.py 100 1000 10000

For each N: a fresh embedded registry with N valid connectors (a mix of the source types), then the
DAG file is parsed by Airflow's DagBag in a fresh process, as the dag-processor does. The reference,
measured in the same run, is a plain Airflow DAG file that defines N DAGs of the same shape (two
tasks, one mapped) with no registry at all: the ratio is what the registry read and validation cost.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import textwrap
import uuid
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

_PARSE = textwrap.dedent(
    """
    import json, sys, time
    from airflow.dag_processing.dagbag import DagBag
    started = time.perf_counter()
    bag = DagBag(dag_folder=sys.argv[1])
    elapsed = time.perf_counter() - started
    print(json.dumps({"seconds": elapsed, "dags": len(bag.dags), "errors": len(bag.import_errors)}))
    """
)

_REFERENCE_DAG_FILE = textwrap.dedent(
    """
    # A plain Airflow DAG file: N DAGs of the Atlas shape, no registry.
    from datetime import datetime
    from airflow.sdk import DAG, task

    for i in range(N):
        with DAG(dag_id=f"plain_{i}", schedule="0 * * * *", start_date=datetime(2026, 1, 1), catchup=False,
                 max_active_runs=1, tags=["plain"], doc_md=f"plain {i}") as dag:
            @task
            def plan_streams() -> list[str]:
                return ["t"]

            @task
            def sync_stream(stream: str) -> dict:
                return {}

            sync_stream.expand(stream=plan_streams())
        globals()[dag.dag_id] = dag
    """
)


def _rows(n: int) -> list[dict]:
    now = datetime.now(UTC)
    kinds = [
        ("postgresql", {"table": "users"}, {"incremental": True, "timestamp_column": "updated_at"}),
        ("mysql", {"tables": ["orders", "items"]}, {}),
        ("rest_api", {"endpoint": "/items", "pagination": {"type": "offset", "page_size": 100}}, {}),
    ]
    rows = []
    for i in range(n):
        source_type, config, extra = kinds[i % len(kinds)]
        rows.append(
            {
                "connector_id": str(uuid.uuid4()),
                "source_type": source_type,
                "source_name": f"bench_{i:05d}",
                "conn_id": "bench_conn",
                "config": config,
                "schedule_cron": f"{i % 60} * * * *",
                "enabled": True,
                "incremental": extra.get("incremental", False),
                "timestamp_column": extra.get("timestamp_column"),
                "target_table": None,
                "options": {},
                "created_at": now,
                "updated_at": now,
            }
        )
    return rows


def _parse(dag_folder: Path, env: dict[str, str]) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", _PARSE, str(dag_folder)], env=env, check=True, capture_output=True, text=True
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


def measure(n: int, workdir: Path) -> dict:
    from atlas.registry import ConnectorRegistry, make_engine
    from atlas.registry.tables import connectors

    home = workdir / f"atlas-{n}"
    home.mkdir()
    registry = ConnectorRegistry(make_engine(f"sqlite:///{home / 'registry.db'}"))
    registry.upgrade()
    with registry.engine.begin() as conn:
        conn.execute(connectors.insert(), _rows(n))

    # Airflow's default import timeout is 30 s; it is raised here so that large N is measured, not cut.
    env = os.environ | {
        "ATLAS_HOME": str(home),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGBAG_IMPORT_TIMEOUT": "600",
    }
    env.pop("_AIRFLOW_PARSING_CONTEXT_DAG_ID", None)
    atlas = _parse(REPO / "dags", env)

    reference_dir = workdir / f"plain-{n}"
    reference_dir.mkdir()
    (reference_dir / "plain_dags.py").write_text(_REFERENCE_DAG_FILE.replace("range(N)", f"range({n})"))
    reference = _parse(reference_dir, env)
    assert atlas["dags"] == reference["dags"] == n and atlas["errors"] == reference["errors"] == 0, (atlas, reference)
    return {"connectors": n, "atlas_s": atlas["seconds"], "plain_airflow_s": reference["seconds"]}


def main(sizes: list[int]) -> None:
    os.environ.setdefault("AIRFLOW_HOME", tempfile.mkdtemp(prefix="atlas-bench-airflow-"))
    print(f"{'connectors':>10} {'atlas file s':>13} {'plain Airflow s':>16} {'ratio':>6} {'atlas ms/connector':>19}")
    with tempfile.TemporaryDirectory(prefix="atlas-bench-parse-") as tmp:
        for n in sizes:
            r = measure(n, Path(tmp))
            print(
                f"{r['connectors']:>10} {r['atlas_s']:>13.2f} {r['plain_airflow_s']:>16.2f} "
                f"{r['atlas_s'] / r['plain_airflow_s']:>6.2f} {1000 * r['atlas_s'] / r['connectors']:>19.3f}",
                flush=True,
            )


if __name__ == "__main__":
    main([int(a) for a in sys.argv[1:]] or [100, 1000, 10000])
