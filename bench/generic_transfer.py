"""Run Airflow's common-sql ``GenericTransfer`` for real: its operator's ``execute`` on Airflow connections.

Usage: ``python bench/generic_transfer.py SOURCE_CONN_ID DESTINATION_CONN_ID TABLE "SELECT ..."``

The destination table must exist (the benchmark creates it like the source); the operator's
``preoperator`` empties it, as a DAG using it would. ``insert_args`` are the provider's own fastest
documented settings for psycopg 3 (``executemany`` is pipelined), in transactions of 10,000 rows.
"""

from __future__ import annotations

import sys

from airflow.providers.common.sql.operators.generic_transfer import GenericTransfer
from psycopg import sql

INSERT_ARGS = {"executemany": True, "commit_every": 10_000}


def main(source_conn_id: str, destination_conn_id: str, table: str, query: str) -> None:
    operator = GenericTransfer(
        task_id="generic_transfer",
        sql=query,
        source_conn_id=source_conn_id,
        destination_conn_id=destination_conn_id,
        destination_table=table,
        preoperator=sql.SQL("TRUNCATE {}").format(sql.Identifier(table)).as_string(),
        insert_args=INSERT_ARGS,
    )
    operator.execute(context={})


if __name__ == "__main__":
    if len(sys.argv) != 5:
        sys.exit(__doc__)
    main(*sys.argv[1:])
