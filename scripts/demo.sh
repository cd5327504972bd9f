#!/usr/bin/env bash
# `make demo`: Airflow standalone with the Atlas demo connectors, all embedded (SQLite), on :8080.
#
# Ctrl-C stops everything. Standalone runs in a session of its own, so the terminal's SIGINT reaches
# only make and this script: Airflow 3.3 standalone hangs when its components get that SIGINT too (its
# LocalExecutor workers ignore it). The script sends standalone ONE SIGINT, its clean path (it SIGTERMs
# each component and waits for them; a SIGTERM would kill standalone alone and orphan them), waits up
# to DEMO_STOP_TIMEOUT seconds and SIGKILLs whatever is left of standalone's session.
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
# Tasks reach the execution API at the base URL (Airflow's default assumes :8080).
export AIRFLOW__API__BASE_URL="${AIRFLOW__API__BASE_URL:-http://localhost:$AIRFLOW__API__PORT}"
STOP_TIMEOUT="${DEMO_STOP_TIMEOUT:-30}"
BIN="$PWD/.venv/bin"
export PATH="$BIN:$PATH"  # standalone starts its components as `airflow …` from PATH
mkdir -p "$AIRFLOW_HOME"

"$BIN/airflow" db migrate >/dev/null
# Fix the admin password before Airflow starts, so the demo's REST connector (Airflow's own API) can log in.
PASSWORDS="$AIRFLOW_HOME/simple_auth_manager_passwords.json.generated"
[ -f "$PASSWORDS" ] || "$BIN/python" -c 'import json, secrets, sys; json.dump({"admin": secrets.token_urlsafe(12)}, open(sys.argv[1], "w"))' "$PASSWORDS"
"$BIN/atlas" registry init
"$BIN/atlas" demo setup

# Whether process $1 is alive (a zombie is not: it only waits for its parent to reap it).
alive() {
  local stat
  { read -r stat <"/proc/$1/stat"; } 2>/dev/null || return 1
  stat=${stat##*) }  # after "(comm)": state ppid pgrp session …
  [ "${stat:0:1}" != Z ]
}

# SIGKILL every live process of session $1, found in /proc (procps may not be installed).
kill_session() {
  local stat line fields pids=()
  for stat in /proc/[0-9]*/stat; do
    { read -r line <"$stat"; } 2>/dev/null || continue
    read -ra fields <<<"${line##*) }"
    [ "${fields[3]}" = "$1" ] && [ "${fields[0]}" != Z ] && pids+=("${line%% *}")
  done
  [ ${#pids[@]} -eq 0 ] && return 0
  echo "demo: SIGKILL to the ${#pids[@]} Airflow processes still running: ${pids[*]}"
  kill -KILL "${pids[@]}" 2>/dev/null || true
}

STANDALONE=""
stop() {
  trap '' INT TERM HUP  # a second Ctrl-C must not cut the shutdown short
  if [ -n "$STANDALONE" ]; then
    echo "demo: stopping Airflow (SIGKILL after ${STOP_TIMEOUT}s)"
    kill -INT "$STANDALONE" 2>/dev/null || true
    local tenths=0
    while alive "$STANDALONE" && [ "$tenths" -lt $((STOP_TIMEOUT * 10)) ]; do
      sleep 0.1
      tenths=$((tenths + 1))
    done
    kill_session "$STANDALONE"
    echo "demo: stopped"
  fi
  trap - "$1"
  kill -"$1" $$  # die of the same signal, so make and the calling shell see an interrupted command
}
trap 'stop INT' INT
trap 'stop TERM' TERM
trap 'stop HUP' HUP

# A background child of a non-interactive shell is no process group leader, so setsid does not fork
# and $! is standalone's PID and session ID. The shell starts it with SIGINT ignored, which Python
# keeps: env gives it back the default, so standalone turns SIGINT into its shutdown.
setsid env --default-signal=INT "$BIN/airflow" standalone &
STANDALONE=$!

# First run of each demo DAG as soon as it is parsed, so rows land without waiting for the cron.
for dag in atlas__demo_shop atlas__demo_products atlas__demo_airflow_runs; do
  for _ in $(seq 1 60); do
    alive "$STANDALONE" || break
    "$BIN/airflow" dags trigger "$dag" >/dev/null 2>&1 && { echo "demo: triggered $dag"; break; }
    sleep 5
  done
done
alive "$STANDALONE" && cat <<MSG

  Atlas demo is up:   http://localhost:${AIRFLOW__API__PORT}   (user: admin)
  Password:           $(cat "$PASSWORDS" 2>/dev/null)
  Connectors page:    http://localhost:${AIRFLOW__API__PORT}/plugin/atlas-connectors
  Connectors API:     http://localhost:${AIRFLOW__API__PORT}/atlas/docs
  Warehouse (SQLite): ${ATLAS_HOME:-$AIRFLOW_HOME/atlas}/warehouse.db
  Stop with Ctrl-C.

MSG
status=0
wait "$STANDALONE" || status=$?  # returns early when a signal's trap runs
kill_session "$STANDALONE"      # standalone ended by itself: leave nothing behind
exit "$status"
