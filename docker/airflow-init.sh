#!/usr/bin/env bash
# The airflow-init service: everything that must happen once before the other services start.
#  1. Generate the shared secrets (Fernet key, JWT secret) into the airflow-secrets volume, once;
#     every service reads them through AIRFLOW__*_CMD, so they never appear in docker-compose.yaml.
#  2. Migrate Airflow's metadata database.
#  3. Set the admin password when _AIRFLOW_WWW_USER_PASSWORD is given (otherwise the API server
#     generates one into the same volume on its first start).
#  4. Create or upgrade the Atlas registry (`atlas registry init`) and register the demo connectors.
set -euo pipefail
SECRETS=/opt/airflow/secrets
umask 077

if [[ ! -s "$SECRETS/fernet_key" ]]; then
  python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())' > "$SECRETS/fernet_key"
  echo "generated a Fernet key in the airflow-secrets volume"
fi
if [[ ! -s "$SECRETS/jwt_secret" ]]; then
  python -c 'import secrets; print(secrets.token_urlsafe(48))' > "$SECRETS/jwt_secret"
  echo "generated a JWT secret in the airflow-secrets volume"
fi

airflow db migrate

if [[ -n "${_AIRFLOW_WWW_USER_PASSWORD:-}" ]]; then
  python - <<'PY'
import json, os
path = os.environ["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"]
user = os.environ.get("_AIRFLOW_WWW_USER_USERNAME", "admin")
with open(path, "w") as f:
    json.dump({user: os.environ["_AIRFLOW_WWW_USER_PASSWORD"]}, f)
PY
fi

atlas registry init
# Demo connectors: added on the first start, left as they are (maybe edited) on later ones.
for spec in /opt/atlas/docker/demo/*.json; do
  name=$(python -c 'import json, sys; print(json.load(open(sys.argv[1]))["source_name"])' "$spec")
  if atlas connectors show "$name" >/dev/null 2>&1; then
    echo "connector $name exists"
  else
    atlas connectors add "$spec"
  fi
done
