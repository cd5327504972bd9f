#!/usr/bin/env bash
# First start of the postgres service: besides Airflow's metadata database (POSTGRES_DB), create the
# Atlas registry and the warehouse as separate databases owned by their own role.
# Runs once, from /docker-entrypoint-initdb.d, while the data directory is empty.
set -euo pipefail
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
  -v atlas_user="$ATLAS_DB_USER" -v atlas_password="$ATLAS_DB_PASSWORD" <<'SQL'
CREATE ROLE :"atlas_user" LOGIN PASSWORD :'atlas_password';
CREATE DATABASE atlas_registry OWNER :"atlas_user";
CREATE DATABASE atlas_warehouse OWNER :"atlas_user";
SQL
