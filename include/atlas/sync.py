"""One sync of one stream: plan -> extract -> load -> commit watermark -> record.

The order is the correctness argument: the watermark is written only after the warehouse
transaction holding the rows committed, and every read starts at the watermark *inclusive* (minus the
lookback), merged by primary key. A run that dies anywhere and is retried therefore re-reads a little
and converges to the source; it never skips a row.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from typing import Any

from atlas.deletes import DeleteCheck, KeySpace, TooManyDeletes, detect_deletes
from atlas.destinations import default_destination
from atlas.destinations.base import Destination, LoadMode, LoadResult, TargetTable
from atlas.exceptions import DeletesRefused
from atlas.models import ConnectorSpec
from atlas.registry import ConnectorRegistry
from atlas.schema import TableSchema
from atlas.sources import build_source
from atlas.sources.base import Batch, ReadRequest
from atlas.sources.sql import SqlSource
from atlas.watermark import Watermark, WatermarkStore

log = logging.getLogger(__name__)

PROGRESS_EVERY_SECONDS = 5.0


@dataclass(frozen=True)
class RunInfo:
    """Who asked for the run: recorded in ``sync_runs``."""

    dag_id: str | None = None
    dag_run_id: str | None = None
    try_number: int | None = None


@dataclass(frozen=True)
class SyncSummary:
    """What a run did: the task's XCom, the CLI's output, the run record. Never rows, never secrets."""

    connector: str
    stream: str
    target: str
    asset_uri: str
    mode: str
    rows_read: int
    rows_written: int
    watermark_before: dict[str, Any] | None
    watermark_after: dict[str, Any] | None
    seconds: float
    bytes_read: int | None = None
    #: Rows marked deleted by ``config.detect_deletes`` (None: not enabled, or a full refresh).
    rows_deleted: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _with_progress(batches: Iterable[Batch], label: str, counter: list[int]) -> Iterator[Batch]:
    """Pass batches through, counting rows and logging rows and rows/s every few seconds."""
    started = last = time.monotonic()
    for batch in batches:
        counter[0] += len(batch)
        now = time.monotonic()
        if now - last >= PROGRESS_EVERY_SECONDS:
            log.info("%s: %d rows read, %.0f rows/s", label, counter[0], counter[0] / (now - started))
            last = now
        yield batch


def _later(before: Watermark | None, upper_bound: Watermark | None) -> Watermark | None:
    """The new watermark: never behind the old one (a lookback re-read may end below it)."""
    if before is None or upper_bound is None or before.type != upper_bound.type:
        return upper_bound or before
    return max(before, upper_bound, key=lambda w: w.value)


def choose_mode(spec: ConnectorSpec, lower_bound: Watermark | None, has_primary_key: bool) -> LoadMode:
    """Full refresh replaces; an incremental read merges by key, or appends when there is no key."""
    if not spec.incremental or lower_bound is None:
        return LoadMode.REPLACE
    return LoadMode.MERGE if has_primary_key else LoadMode.APPEND


def sync_stream(
    spec: ConnectorSpec,
    stream: str,
    *,
    full_refresh: bool = False,
    since: str | None = None,
    run: RunInfo | None = None,
    registry: ConnectorRegistry | None = None,
    destination: Destination | None = None,
    watermarks: WatermarkStore | None = None,
) -> SyncSummary:
    """Sync ``stream`` of ``spec`` into the warehouse; return what happened. Raises on failure."""
    run = run or RunInfo()
    registry = registry or ConnectorRegistry.default()
    destination = destination or default_destination()
    watermarks = watermarks or WatermarkStore()
    source = build_source(spec)
    target = destination.target(spec.target_table, spec.source_name, stream)

    cursor = spec.timestamp_column if spec.incremental else None
    before: Watermark | None = None
    if cursor and not full_refresh:
        before = Watermark.parse_since(cursor, since) if since else watermarks.get(spec.source_name, stream)
    lookback = getattr(spec.config, "lookback_seconds", 0)
    lower_bound = before.minus_seconds(lookback) if before else None
    batch_size = getattr(spec.config, "batch_size", 10_000)

    run_id = registry.start_run(
        spec,
        stream,
        dag_id=run.dag_id or spec.dag_id,
        dag_run_id=run.dag_run_id,
        try_number=run.try_number,
        full_refresh=lower_bound is None,
        watermark_before=before.to_json() if before else None,
    )
    started = time.monotonic()
    rows_read = [0]
    try:
        request = ReadRequest(
            cursor=cursor,
            lower_bound=lower_bound,
            batch_size=batch_size,
            copy_text=destination.accepts_copy_text,
        )
        with source.read(stream, request) as read:
            mode = choose_mode(spec, lower_bound, bool(read.schema.primary_key))
            log.info(
                "%s/%s -> %s: %s load%s",
                spec.source_name,
                stream,
                target,
                mode,
                f" from {lower_bound}" if lower_bound else "",
            )
            if read.schema.columns:
                batches = _with_progress(read.batches(), f"{spec.source_name}/{stream}", rows_read)
                result = destination.load(target, read.schema, batches, mode)
            else:
                # Only a stream whose columns come from its records (REST) has none: it read nothing.
                log.info("%s/%s: no records read; %s left as it is", spec.source_name, stream, target)
                result = LoadResult(rows_written=0)
            upper_bound, bytes_read, schema = read.upper_bound, read.bytes_read, read.schema
        # The load committed: only now may the watermark move.
        after = _later(before, upper_bound)
        if cursor and after is not None and after != before:
            watermarks.set(spec.source_name, stream, after)
        deletes = None
        if getattr(spec.config, "detect_deletes", False):
            deletes = sync_deletes(spec, stream, source, destination, target, schema, compare=mode == LoadMode.MERGE)
    except BaseException as exc:
        registry.finish_run(run_id, "failed", rows_read=rows_read[0], error=f"{type(exc).__name__}: {exc}"[:4000])
        raise
    summary = SyncSummary(
        connector=spec.source_name,
        stream=stream,
        target=str(target),
        asset_uri=destination.asset_uri(target),
        mode=str(mode),
        rows_read=rows_read[0],
        rows_written=result.rows_written,
        watermark_before=before.to_json() if before else None,
        watermark_after=after.to_json() if after else None,
        seconds=round(time.monotonic() - started, 3),
        bytes_read=bytes_read,
        rows_deleted=deletes.marked if deletes else None,
    )
    registry.finish_run(
        run_id,
        "success",
        rows_read=summary.rows_read,
        rows_written=summary.rows_written,
        bytes_read=bytes_read,
        watermark_after=summary.watermark_after,
        # Only written when known, so that a registry not yet upgraded keeps recording other connectors.
        **({"rows_deleted": summary.rows_deleted} if summary.rows_deleted is not None else {}),
    )
    log.info(
        "%s/%s: %d rows read, %d written in %.1fs (%.0f rows/s)",
        spec.source_name,
        stream,
        summary.rows_read,
        summary.rows_written,
        summary.seconds,
        summary.rows_read / summary.seconds if summary.seconds else 0,
    )
    return summary


def sync_deletes(
    spec: ConnectorSpec,
    stream: str,
    source: SqlSource,
    destination: Destination,
    target: TargetTable,
    schema: TableSchema,
    *,
    compare: bool,
) -> DeleteCheck | None:
    """``config.detect_deletes``: after the load, mark the warehouse rows the source no longer has.

    A full refresh (``compare`` False) rebuilt the table from the source: there is nothing to find, and
    only the ``_atlas_deleted_at`` column is put back. Raises :class:`DeletesRefused`, marking nothing,
    when more than ``config.max_delete_fraction`` of the warehouse's rows would be marked.
    """
    space = KeySpace.of(schema)
    label = f"{spec.source_name}/{stream}"
    started = time.monotonic()
    with destination.key_side(target, space) as warehouse:
        if not compare:
            return None
        with source.key_side(stream) as keys:
            try:
                check = detect_deletes(keys, warehouse, space, spec.config.max_delete_fraction)
            except TooManyDeletes as exc:
                share = exc.deleted / exc.warehouse_rows
                raise DeletesRefused(
                    f"connector {spec.source_name!r}, stream {stream!r}: config.max_delete_fraction: "
                    f"{'at least ' if exc.at_least else ''}{exc.deleted} of the {exc.warehouse_rows} rows of {target} "
                    f"({share:.1%}) are no longer in the source, more than the {spec.config.max_delete_fraction:.1%} "
                    "allowed; nothing was marked. A source outage or a truncated table looks like this; if the "
                    "deletes are real, raise config.max_delete_fraction (1 turns the guard off) and run again"
                ) from None
    log.info(
        "%s: %d rows marked deleted, %d unmarked (back in the source) in %s; %d rows compared by key checksums "
        "in %.2fs (%d levels, %d keys fetched)",
        label,
        check.marked,
        check.unmarked,
        target,
        check.warehouse_rows,
        time.monotonic() - started,
        check.levels,
        check.leaf_keys,
    )
    if check.not_in_warehouse:
        log.info(
            "%s: %d source rows are not in the warehouse yet: committed after this run's read, or missed by the "
            "cursor (NULL, or older than the lookback); a full refresh loads the latter",
            label,
            check.not_in_warehouse,
        )
    return check
