#!/usr/bin/env bash
# System packages the Python lock needs: mysqlclient (MySqlHook's driver) builds against the
# MySQL/MariaDB client headers; there is no Linux wheel.
set -euo pipefail
command -v python3.11 >/dev/null || { echo "Python 3.11 is required (python3.11 not on PATH)" >&2; exit 1; }
if ! pkg-config --exists mysqlclient 2>/dev/null && ! pkg-config --exists mariadb 2>/dev/null; then
  echo "installing MySQL client headers (default-libmysqlclient-dev) for mysqlclient"
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq default-libmysqlclient-dev pkg-config build-essential >/dev/null
fi
