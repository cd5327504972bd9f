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
export PATH="$BIN:$PATH"  # standalone starts its components as `airflow …` from PATH
mkdir -p "$AIRFLOW_HOME"

"$BIN/airflow" db migrate >/dev/null
# Fix the admin password before Airflow starts, so the demo's REST connector (Airflow's own API) can log in.
PASSWORDS="$AIRFLOW_HOME/simple_auth_manager_passwords.json.generated"
[ -f "$PASSWORDS" ] || "$BIN/python" -c 'import json, secrets, sys; json.dump({"admin": secrets.token_urlsafe(12)}, open(sys.argv[1], "w"))' "$PASSWORDS"
"$BIN/atlas" registry init
"$BIN/atlas" demo setup

# First run of each demo DAG as soon as it is parsed, so rows land without waiting for the cron.
(
  for dag in atlas__demo_shop atlas__demo_products atlas__demo_airflow_runs; do
    for _ in $(seq 1 60); do
      "$BIN/airflow" dags trigger "$dag" >/dev/null 2>&1 && { echo "demo: triggered $dag"; break; }
      sleep 5
    done
  done
  cat <<MSG

  Atlas demo is up:   http://localhost:${AIRFLOW__API__PORT}   (user: admin)
  Password:           $(cat "$AIRFLOW_HOME/simple_auth_manager_passwords.json.generated" 2>/dev/null)
  Connectors API:     http://localhost:${AIRFLOW__API__PORT}/atlas/docs
  Warehouse (SQLite): ${ATLAS_HOME:-$AIRFLOW_HOME/atlas}/warehouse.db
  Stop with Ctrl-C.

MSG
) &

# In the foreground and in this process group: Ctrl-C sends SIGINT to standalone and to every
# component at once (a SIGTERM to standalone alone would orphan them).
exec "$BIN/airflow" standalone
