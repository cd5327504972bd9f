#!/usr/bin/env bash
# `make demo`: Airflow standalone with the Atlas demo connectors, all embedded (SQLite), on :8080.
set -euo pipefail
cd "$(dirname "$0")/.."
export AIRFLOW_HOME="${AIRFLOW_HOME:-$PWD/.airflow}"
export AIRFLOW__CORE__DAGS_FOLDER="$PWD/dags"
export AIRFLOW__CORE__PLUGINS_FOLDER="$PWD/plugins"
export AIRFLOW__CORE__LOAD_EXAMPLES=False
export AIRFLOW__CORE__PARALLELISM="${AIRFLOW__CORE__PARALLELISM:-4}"
export AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION=False
export AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL="${AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL:-30}"
export AIRFLOW__API__PORT="${AIRFLOW__API__PORT:-8080}"
BIN="$PWD/.venv/bin"
mkdir -p "$AIRFLOW_HOME"

"$BIN/airflow" db migrate >/dev/null
"$BIN/atlas" registry init
"$BIN/atlas" demo setup

# Standalone orphans its components on SIGTERM: run it in its own process group and stop the group.
set -m
"$BIN/airflow" standalone &
STANDALONE=$!
stop() { trap - INT TERM EXIT; kill -INT -- "-$STANDALONE" 2>/dev/null || true; sleep 3;
         kill -TERM -- "-$STANDALONE" 2>/dev/null || true; wait "$STANDALONE" 2>/dev/null || true; }
trap stop INT TERM EXIT

# First run of each demo DAG as soon as it is parsed, so rows land without waiting for the cron.
(
  for _ in $(seq 1 120); do
    if "$BIN/airflow" dags list -o plain 2>/dev/null | grep -q "atlas__demo_shop"; then
      for dag in $("$BIN/airflow" dags list -o plain 2>/dev/null | awk '/^atlas__demo_/ {print $1}'); do
        "$BIN/airflow" dags trigger "$dag" >/dev/null && echo "demo: triggered $dag"
      done
      break
    fi
    sleep 5
  done
  cat <<MSG

  Atlas demo is up:  http://localhost:${AIRFLOW__API__PORT}   (user: admin)
  Password:          $(cat "$AIRFLOW_HOME/simple_auth_manager_passwords.json.generated" 2>/dev/null)
  Connectors API:    http://localhost:${AIRFLOW__API__PORT}/atlas/docs
  Warehouse (SQLite): ${ATLAS_HOME:-$AIRFLOW_HOME/atlas}/warehouse.db
  Stop with Ctrl-C.

MSG
) &
wait "$STANDALONE"
