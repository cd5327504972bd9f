#!/usr/bin/env bash
# System packages the project needs, installed only when missing:
# - MySQL/MariaDB client headers: mysqlclient (MySqlHook's driver) builds against them; there is no Linux wheel.
# - Debian's headless Chromium: the browser tests of the Connectors page drive it through Playwright
#   (Playwright cannot download a browser of its own on these machines).
set -euo pipefail
command -v python3.11 >/dev/null || { echo "Python 3.11 is required (python3.11 not on PATH)" >&2; exit 1; }
SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
missing=()
if ! pkg-config --exists mysqlclient 2>/dev/null && ! pkg-config --exists mariadb 2>/dev/null; then
  missing+=(default-libmysqlclient-dev pkg-config build-essential)
fi
[ -x /usr/bin/chromium ] || missing+=(chromium)
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
