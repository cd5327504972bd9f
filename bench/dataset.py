"""The benchmark's ``events`` table: generated in PostgreSQL, copied into MariaDB, checksummed per column.

The PostgreSQL source is generated with ``generate_series``; the MariaDB source is loaded from the
PostgreSQL rows (``LOAD DATA LOCAL INFILE`` of a COPY export), so both sources hold the same values and
their checksums must agree — which also checks that the canonical forms below mean the same on both
engines. The values are chosen to break naive copies: quotes, backslashes, tabs, CR/LF, emoji, empty
strings next to NULLs, negative decimals, JSON with unicode, and timestamps with microseconds and
many ties (100 rows share each ``updated_at``, 1,000 each ``created_at``).
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from dataclasses import dataclass

import MySQLdb
import psycopg
from psycopg import sql

TABLE = "events"
COLUMNS = (
    "id",
    "account_id",
    "amount_cents",
    "name",
    "note",
    "price",
    "payload",
    "active",
    "created_at",
    "updated_at",
)
#: Rows per inner checksum chunk: keeps each GROUP_CONCAT far below MariaDB's max_allowed_packet.
CHECKSUM_CHUNK = 10_000
#: Share of rows the incremental scenario changes (every 100th row: 1 %).
UPDATE_MODULUS = 100

PG_DDL = """
CREATE TABLE {table} (
    id           bigint PRIMARY KEY,
    account_id   bigint NOT NULL,
    amount_cents bigint,
    name         text,
    note         text,
    price        numeric(12, 2),
    payload      jsonb,
    active       boolean,
    created_at   timestamptz NOT NULL,
    updated_at   timestamptz NOT NULL
)"""

# Every value is a function of i, so a scale's data is the same on every run.
PG_GENERATE = r"""
INSERT INTO events
SELECT i,
       (i * 7919) % 100000,
       CASE WHEN i % 17 = 0 THEN NULL ELSE (i * 104729) % 10000000000 - 5000000000 END,
       CASE i % 6
           WHEN 0 THEN NULL
           WHEN 1 THEN 'O''Brien said "hi"; -- ' || i
           WHEN 2 THEN 'Zoë Ångström 日本語 🚀 ' || i
           WHEN 3 THEN ''
           ELSE md5(i::text)
       END,
       CASE i % 7
           WHEN 0 THEN NULL
           WHEN 1 THEN E'line one\nline two\r\nend\t' || i
           WHEN 2 THEN E'C:\\temp\\' || i || E'\\'
           WHEN 3 THEN E'tab\there\\N not null ' || i
           WHEN 4 THEN repeat('lorem ipsum ', (1 + i % 20)::int)
           ELSE 'plain ' || i
       END,
       CASE WHEN i % 23 = 0 THEN NULL ELSE ((i * 37) % 100000000 - 50000000) / 100.0 END,
       CASE WHEN i % 29 = 0 THEN NULL ELSE jsonb_build_object(
           'k', i % 1000,
           'tag', CASE WHEN i % 2 = 0 THEN 'naïve "quoted" ✓' ELSE E'back\\slash\nnl' END,
           'vals', jsonb_build_array(i % 7, i % 3 = 0, NULL, 1.5),
           'nested', jsonb_build_object('a', i % 11, 'b', NULL))
       END,
       CASE WHEN i % 31 = 0 THEN NULL ELSE i % 2 = 0 END,
       timestamptz '2024-01-01 00:00:00+00' + (i / 1000) * interval '1 minute',
       timestamptz '2025-01-01 00:00:00+00' + (i / 100) * interval '1 second'
           + ((i / 100) % 999983) * interval '1 microsecond'
FROM generate_series(1::bigint, {rows}) AS i
"""

MYSQL_DDL = """
CREATE TABLE events (
    id           BIGINT PRIMARY KEY,
    account_id   BIGINT NOT NULL,
    amount_cents BIGINT NULL,
    name         TEXT NULL,
    note         TEXT NULL,
    price        DECIMAL(12, 2) NULL,
    payload      JSON NULL,
    active       TINYINT(1) NULL,
    created_at   TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    updated_at   DATETIME(6) NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin"""

#: The PostgreSQL rows as MariaDB's LOAD DATA reads them: UTC wall-clock timestamps, 0/1 booleans.
PG_EXPORT_FOR_MYSQL = """
SELECT id, account_id, amount_cents, name, note, price, payload::text, active::int,
       to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US'),
       to_char(updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US')
FROM events ORDER BY id"""


@dataclass(frozen=True)
class Servers:
    """Where the benchmark's databases live (the local servers; superuser/root without password)."""

    pg_host: str = "127.0.0.1"
    pg_port: int = 5432
    pg_user: str = "postgres"
    mysql_host: str = "127.0.0.1"
    mysql_port: int = 3306
    mysql_user: str = "root"
    source_db: str = "bench_src"
    warehouse_db: str = "bench_wh"

    def pg(self, dbname: str, *, autocommit: bool = True) -> psycopg.Connection:
        conn = psycopg.connect(
            host=self.pg_host,
            port=self.pg_port,
            user=self.pg_user,
            dbname=dbname,
            autocommit=autocommit,
            options="-c timezone=UTC",
        )
        return conn

    def mysql(self) -> MySQLdb.Connection:
        conn = MySQLdb.connect(
            host=self.mysql_host,
            port=self.mysql_port,
            user=self.mysql_user,
            database=self.source_db,
            charset="utf8mb4",
            local_infile=1,
        )
        conn.autocommit(True)
        with conn.cursor() as cur:
            cur.execute("SET time_zone = '+00:00'")
        return conn

    def pg_url(self, dbname: str) -> str:
        return f"postgresql://{self.pg_user}@{self.pg_host}:{self.pg_port}/{dbname}"

    def psql(self, dbname: str) -> list[str]:
        return ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", self.pg_url(dbname)]

    def mariadb(self) -> list[str]:
        return [
            "mariadb",
            "-h",
            self.mysql_host,
            "-P",
            str(self.mysql_port),
            "-u",
            self.mysql_user,
            "--default-character-set=utf8mb4",
            self.source_db,
        ]


def ensure_databases(servers: Servers) -> None:
    with servers.pg("postgres") as conn:
        existing = {r[0] for r in conn.execute("SELECT datname FROM pg_database")}
        for name in (servers.source_db, servers.warehouse_db):
            if name not in existing:
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    conn = MySQLdb.connect(host=servers.mysql_host, port=servers.mysql_port, user=servers.mysql_user)
    try:
        with conn.cursor() as cur:
            cur.execute(f"CREATE DATABASE IF NOT EXISTS `{servers.source_db}` CHARACTER SET utf8mb4")
    finally:
        conn.close()


def create_pg_table(conn: psycopg.Connection, table: str, *, schema: str = "public") -> None:
    """(Re)create an empty ``events``-shaped table, e.g. a reference tool's target."""
    name = sql.Identifier(schema, table)
    conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(name))
    conn.execute(sql.SQL(PG_DDL).format(table=name))


def generate_pg_source(servers: Servers, rows: int) -> None:
    with servers.pg(servers.source_db) as conn:
        create_pg_table(conn, TABLE)
        conn.execute(sql.SQL(PG_GENERATE).format(rows=sql.Literal(rows)))
        conn.execute("CREATE INDEX events_updated_at ON events (updated_at)")
        conn.execute("VACUUM ANALYZE events")


def generate_mysql_source(servers: Servers, workdir: str) -> None:
    """Copy the PostgreSQL source into MariaDB through a COPY file and LOAD DATA LOCAL INFILE."""
    fd, path = tempfile.mkstemp(prefix="events-", suffix=".tsv", dir=workdir)
    os.close(fd)
    try:
        subprocess.run(
            [*servers.psql(servers.source_db), "-c", f"\\copy ({' '.join(PG_EXPORT_FOR_MYSQL.split())}) to '{path}'"],
            check=True,
        )
        conn = servers.mysql()
        try:
            with conn.cursor() as cur:
                cur.execute("DROP TABLE IF EXISTS events")
                cur.execute(MYSQL_DDL)
                cur.execute(
                    "LOAD DATA LOCAL INFILE %s INTO TABLE events CHARACTER SET utf8mb4 "
                    "FIELDS TERMINATED BY '\\t' ESCAPED BY '\\\\' LINES TERMINATED BY '\\n'",
                    (path,),
                )
                cur.execute("CREATE INDEX events_updated_at ON events (updated_at)")
                cur.execute("ANALYZE TABLE events")
                cur.fetchall()
        finally:
            conn.close()
    finally:
        os.unlink(path)


def touch_pg_source(servers: Servers) -> int:
    """The incremental scenario's change: bump ``updated_at`` (and a value) of 1 % of the rows."""
    with servers.pg(servers.source_db) as conn:
        cur = conn.execute(
            "UPDATE events SET updated_at = clock_timestamp(), amount_cents = coalesce(amount_cents, 0) + 1 "
            "WHERE id %% %s = 7",
            (UPDATE_MODULUS,),
        )
        return cur.rowcount


def touch_mysql_source(servers: Servers) -> int:
    conn = servers.mysql()
    try:
        with conn.cursor() as cur:
            return cur.execute(
                "UPDATE events SET updated_at = UTC_TIMESTAMP(6), amount_cents = IFNULL(amount_cents, 0) + 1 "
                "WHERE id %% %s = 7",
                (UPDATE_MODULUS,),
            )
    finally:
        conn.close()


# ------------------------------------------------------------------------------------------ checksums
# A value's canonical text depends on the column's type *on that side*, so that e.g. a MariaDB
# DATETIME(6) read as UTC and a PostgreSQL timestamptz compare as the same instant, and a JSON
# document compares by its PostgreSQL jsonb rendering (key order and spacing normalised).
_PG_TS = "'YYYY-MM-DD HH24:MI:SS.US'"
_MYSQL_TS = "'%Y-%m-%d %H:%i:%s.%f'"


def _pg_canonical(column: str, data_type: str) -> sql.Composable:
    col = sql.Identifier(column)
    if data_type == "boolean":
        return sql.SQL("({}::int)::text").format(col)
    if data_type in ("json", "jsonb"):
        return sql.SQL("{}::jsonb::text").format(col)
    if data_type == "timestamp with time zone":
        return sql.SQL("to_char({} AT TIME ZONE 'UTC', " + _PG_TS + ")").format(col)
    if data_type == "timestamp without time zone":
        return sql.SQL("to_char({}, " + _PG_TS + ")").format(col)
    return sql.SQL("{}::text").format(col)


def _mysql_canonical(column: str, data_type: str) -> str:
    col = f"`{column}`"
    if data_type in ("datetime", "timestamp"):
        return f"DATE_FORMAT({col}, {_MYSQL_TS})"
    # JSON stays the text it was loaded as, PostgreSQL's jsonb rendering (see the module doc), so the
    # plain text compares against jsonb::text on the PostgreSQL side.
    return f"CAST({col} AS CHAR)"


def pg_checksums(conn: psycopg.Connection, table: str, schema: str = "public") -> dict[str, str | int]:
    """Row count and, per column, md5 over the md5 of each value's canonical text, ordered by id."""
    types = dict(
        conn.execute(
            "SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = %s AND table_name = %s",
            (schema, table),
        ).fetchall()
    )
    missing = [c for c in COLUMNS if c not in types]
    if missing:
        raise RuntimeError(f"{schema}.{table} lacks columns {missing}")
    inner = sql.SQL(", ").join(
        sql.SQL("md5(string_agg(coalesce(md5({}), '-'), '' ORDER BY id)) AS {}").format(
            _pg_canonical(c, types[c]), sql.Identifier(c)
        )
        for c in COLUMNS
    )
    outer = sql.SQL(", ").join(sql.SQL("md5(string_agg({}, '' ORDER BY g))").format(sql.Identifier(c)) for c in COLUMNS)
    query = sql.SQL(
        "SELECT sum(n), {outer} FROM (SELECT id / {chunk} AS g, count(*) AS n, {inner} FROM {table} GROUP BY 1) s"
    ).format(outer=outer, inner=inner, chunk=sql.Literal(CHECKSUM_CHUNK), table=sql.Identifier(schema, table))
    row = conn.execute(query).fetchone()
    return {"rows": int(row[0] or 0), **dict(zip(COLUMNS, row[1:], strict=True))}


def mysql_checksums(conn: MySQLdb.Connection, table: str = TABLE) -> dict[str, str | int]:
    with conn.cursor() as cur:
        cur.execute("SET SESSION group_concat_max_len = 1073741824")
        cur.execute(
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_schema = DATABASE() AND table_name = %s",
            (table,),
        )
        types = {name.lower(): data_type.lower() for name, data_type in cur.fetchall()}
        inner = ", ".join(
            f"MD5(GROUP_CONCAT(IFNULL(MD5({_mysql_canonical(c, types[c])}), '-') ORDER BY id SEPARATOR '')) AS `{c}`"
            for c in COLUMNS
        )
        outer = ", ".join(f"MD5(GROUP_CONCAT(`{c}` ORDER BY g SEPARATOR ''))" for c in COLUMNS)
        cur.execute(
            f"SELECT SUM(n), {outer} FROM "
            f"(SELECT id DIV {CHECKSUM_CHUNK} AS g, COUNT(*) AS n, {inner} FROM `{table}` GROUP BY 1) s"
        )
        row = cur.fetchone()
    values = [v.decode() if isinstance(v, bytes) else v for v in row[1:]]
    return {"rows": int(row[0] or 0), **dict(zip(COLUMNS, values, strict=True))}


def compare(source: dict[str, str | int], target: dict[str, str | int]) -> list[str]:
    """Names of the columns (or ``rows``) whose checksums differ: empty means an exact copy."""
    return [key for key in source if source[key] != target.get(key)]
