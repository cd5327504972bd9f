#!/usr/bin/env bash
# `make bench`: Atlas's full and incremental sync against a raw COPY pipe and Airflow's GenericTransfer.
#
#   bash bench/run.sh [--rows 1000000] [--rss-rows 100000,5000000] [--sources postgresql,mysql]
#                     [--repeat N] [--skip-generic-transfer] [--skip-dag] [--skip-atlas]
#   bash bench/run.sh deletes [--rows 1000000] [--deletes 100] [--sources postgresql,mysql] [--repeat 5]
#                     (detect_deletes against count(*) of both sides: bench/deletes.py)
#
# Needs the local PostgreSQL (127.0.0.1:5432, user postgres) and MariaDB (127.0.0.1:3306, root) that
# `make services` starts. Uses the databases bench_src (both servers) and bench_wh (PostgreSQL), a
# throw-away AIRFLOW_HOME and ATLAS_HOME, and Airflow connections given as environment variables.
# Results: bench/results/<timestamp>.json and a table on stdout. See docs/benchmarks.md.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
bin=$repo/.venv/bin

work=$(mktemp -d /tmp/atlas-bench.XXXXXX)
export AIRFLOW_HOME=$work/airflow ATLAS_HOME=$work/atlas
export AIRFLOW__CORE__LOAD_EXAMPLES=False
export AIRFLOW__CORE__DAGS_FOLDER=$repo/dags
export AIRFLOW__CORE__PARALLELISM=2
export AIRFLOW__LOGGING__LOGGING_LEVEL=${AIRFLOW__LOGGING__LOGGING_LEVEL:-INFO}
export AIRFLOW_CONN_ATLAS_WAREHOUSE=postgres://postgres@127.0.0.1:5432/bench_wh
export AIRFLOW_CONN_BENCH_SRC_PG=postgres://postgres@127.0.0.1:5432/bench_src
export AIRFLOW_CONN_BENCH_SRC_MYSQL=mysql://root@127.0.0.1:3306/bench_src
export PATH=$bin:$PATH

echo "bench work dir: $work"
"$bin/airflow" db migrate >"$work/airflow-db-migrate.log" 2>&1 || { tail -20 "$work/airflow-db-migrate.log"; exit 1; }
script=bench/syncbench.py
if [[ ${1:-} == deletes ]]; then
    script=bench/deletes.py
    shift
fi
exec "$bin/python" "$script" --workdir "$work" "$@"
