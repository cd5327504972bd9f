"""The compose file's MySQL demo source (docker/mysql/seed.sql), loaded into a throw-away database."""

from __future__ import annotations

from pathlib import Path

SEED_SQL = Path(__file__).resolve().parents[2] / "docker" / "mysql" / "seed.sql"


def load_mysql_demo(db) -> None:
    """Run seed.sql in ``db`` (a ``tests.conftest.Database`` of kind mysql), one statement at a time.

    The MySQL image's init runs the file with the ``mysql`` client; a DB-API cursor takes one
    statement per call, so the file is split on its statement ends (it has no ``;`` inside values).
    """
    conn = db.connect()
    try:
        cur = conn.cursor()
        for statement in SEED_SQL.read_text().split(";\n"):
            body = "\n".join(line for line in statement.splitlines() if not line.startswith("--")).strip()
            if body:
                cur.execute(body)
    finally:
        conn.close()
