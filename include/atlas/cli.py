"""``atlas``: the command line for scripts and operators.

    atlas registry init|upgrade
    atlas connectors add FILE | list | show NAME | update NAME FILE | remove NAME [--purge]
    atlas connectors test NAME | discover NAME
    atlas sync NAME [--full-refresh] [--since VALUE] [--stream STREAM]
    atlas demo setup

``atlas sync`` runs the same code as the DAG's task, in this process. Exit codes: 0 ok, 1 the
operation failed (source down, sync error, test failed), 2 bad input (invalid connector, unknown name,
unreadable body file, malformed option value).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from atlas.exceptions import AtlasError, ConnectorConfigError, ConnectorNotFound, DuplicateConnector
from atlas.settings import use_server_secrets_backends


class BadArgument(Exception):
    """A command-line argument is unusable (unreadable file, malformed value): exit 2, message names it."""


def _read_body(path: str) -> dict[str, Any]:
    """The request body in file ``path`` ('-': stdin), YAML for ``.yaml``/``.yml``, else JSON."""
    name = "stdin" if path == "-" else f"body file {path}"
    try:
        text = sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise BadArgument(f"cannot read {name}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise BadArgument(f"cannot read {name}: not UTF-8 text") from None
    if path.endswith((".yaml", ".yml")):
        import yaml

        try:
            return yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise BadArgument(f"{name} is not valid YAML: {' '.join(str(exc).split())}") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise BadArgument(f"{name} is not valid JSON: {exc}") from None


def _print(data: Any) -> None:
    print(json.dumps(data, indent=2, default=str))


def _registry():
    from atlas.registry import ConnectorRegistry

    return ConnectorRegistry.default()


# ------------------------------------------------------------------------------------- commands
def cmd_registry(args: argparse.Namespace) -> int:
    registry = _registry()
    registry.upgrade()
    url = registry.engine.url.render_as_string(hide_password=True)
    print(f"registry at {url} is at revision {registry.revision()}")
    return 0


def cmd_add(args: argparse.Namespace) -> int:
    from atlas.service import create_connector

    spec = create_connector(_registry(), _read_body(args.file))
    print(f"created connector {spec.source_name} ({spec.connector_id}); DAG {spec.dag_id} appears on the next parse")
    return 0


def cmd_update(args: argparse.Namespace) -> int:
    from atlas.service import update_connector

    spec = update_connector(_registry(), args.name, _read_body(args.file))
    print(f"updated connector {spec.source_name} ({spec.connector_id})")
    return 0


def cmd_remove(args: argparse.Namespace) -> int:
    from atlas.service import delete_connector

    _print(delete_connector(_registry(), args.name, purge=args.purge))
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    from atlas.freshness import assess_entries

    registry = _registry()
    last = registry.last_runs()
    entries = registry.entries()
    freshness = assess_entries(registry, entries)
    rows = []
    for entry in entries:
        run = last.get(entry.row["connector_id"], {})
        fresh = freshness.get(entry.row["connector_id"])
        rows.append(
            {
                "source_name": entry.name,
                "source_type": entry.row.get("source_type"),
                "schedule": entry.row.get("schedule_cron"),
                "enabled": entry.row.get("enabled"),
                "last_run": run.get("status"),
                "last_run_at": run.get("started_at"),
                "freshness_lag_seconds": fresh.lag_seconds if fresh else None,
                "stale": fresh.stale if fresh else False,
                "error": str(entry.error) if entry.error else None,
            }
        )
    if args.json:
        _print(rows)
        return 0
    for row in rows:
        state = f"INVALID: {row['error']}" if row["error"] else f"last run: {row['last_run'] or '-'}"
        state += "  STALE" if row["stale"] else ""
        print(f"{row['source_name']:<32} {row['source_type'] or '?':<10} {row['schedule'] or 'manual':<16} {state}")
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    from atlas.registry import entry_from_row
    from atlas.service import connection_summary

    entry = entry_from_row(_registry().get_row(args.name))
    out: dict[str, Any] = {"row": entry.row, "valid": entry.spec is not None}
    if entry.spec is not None:
        out["dag_id"] = entry.spec.dag_id
        out["connection"] = connection_summary(entry.spec.conn_id)
    else:
        out["error"] = str(entry.error)
    _print(out)
    return 0


def cmd_test(args: argparse.Namespace) -> int:
    from atlas.service import check_connector

    ok, message = check_connector(_registry().get(args.name))
    print(("ok: " if ok else "failed: ") + message)
    return 0 if ok else 1


def cmd_discover(args: argparse.Namespace) -> int:
    from atlas.service import discover_connector

    _print([schema.to_dict() for schema in discover_connector(_registry().get(args.name))])
    return 0


def cmd_sync(args: argparse.Namespace) -> int:
    from atlas.sources import build_source
    from atlas.sync import sync_stream
    from atlas.watermark import Watermark

    if args.since is not None:
        try:
            Watermark.parse_since("since", args.since)  # fail before connecting to anything
        except ValueError as exc:
            raise BadArgument(f"--since: {exc}") from None
    registry = _registry()
    spec = registry.get(args.name)
    streams = args.stream or build_source(spec).streams()
    for stream in streams:
        summary = sync_stream(spec, stream, full_refresh=args.full_refresh, since=args.since, registry=registry)
        _print(summary.to_dict())
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from atlas.demo import setup_demo

    for line in setup_demo(_registry()):
        print(line)
    return 0


# ---------------------------------------------------------------------------------------- parser
def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="atlas", description="Atlas Connectors: registry, connectors, syncs.")
    sub = parser.add_subparsers(dest="command", required=True)

    registry = sub.add_parser("registry", help="create or migrate the connector registry")
    registry.add_argument("action", choices=["init", "upgrade"])
    registry.set_defaults(func=cmd_registry)

    connectors = sub.add_parser("connectors", help="manage connectors").add_subparsers(dest="action", required=True)
    add = connectors.add_parser("add", help="add a connector from a JSON or YAML file ('-': stdin)")
    add.add_argument("file")
    add.set_defaults(func=cmd_add)
    lst = connectors.add_parser("list", help="list connectors, their state and errors")
    lst.add_argument("--json", action="store_true")
    lst.set_defaults(func=cmd_list)
    for name, func, text in (
        ("show", cmd_show, "show a connector (secrets masked)"),
        ("test", cmd_test, "test the connection to its source"),
        ("discover", cmd_discover, "print the source schema of its streams"),
    ):
        p = connectors.add_parser(name, help=text)
        p.add_argument("name", help="source_name or connector_id")
        p.set_defaults(func=func)
    upd = connectors.add_parser("update", help="update a connector from a (partial) JSON or YAML file")
    upd.add_argument("name")
    upd.add_argument("file")
    upd.set_defaults(func=cmd_update)
    rm = connectors.add_parser("remove", help="remove a connector (its run history stays)")
    rm.add_argument("name")
    rm.add_argument("--purge", action="store_true", help="also delete its Atlas-made connection and watermarks")
    rm.set_defaults(func=cmd_remove)

    sync = sub.add_parser("sync", help="run a connector's sync in this process (same code as the DAG task)")
    sync.add_argument("name")
    sync.add_argument("--full-refresh", action="store_true", help="rebuild the target, reset the watermark")
    sync.add_argument("--since", help="re-sync from this cursor value (ISO timestamp or integer)")
    sync.add_argument("--stream", action="append", help="only this stream (repeatable)")
    sync.set_defaults(func=cmd_sync)

    demo = sub.add_parser("demo", help="create the demo source database and connectors")
    demo.add_argument("action", choices=["setup"])
    demo.set_defaults(func=cmd_demo)
    return parser


def _logs_to_stderr() -> None:
    """Airflow logs to stdout; a command's stdout is its result (JSON for scripts), so move logs aside."""
    import logging

    import airflow  # noqa: F401  (configures logging on import)

    for handler in logging.getLogger().handlers:
        if isinstance(handler, logging.StreamHandler) and handler.stream is sys.stdout:
            handler.setStream(sys.stderr)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    use_server_secrets_backends()
    _logs_to_stderr()
    try:
        return args.func(args)
    except (BadArgument, ConnectorConfigError, ConnectorNotFound, DuplicateConnector) as exc:
        print(f"atlas: {exc}", file=sys.stderr)
        return 2
    except AtlasError as exc:
        print(f"atlas: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
