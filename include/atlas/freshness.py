"""Freshness: how old a connector's synced data is, and whether that breaks its ``max_staleness_minutes``.

A stream's data is as recent as its watermark when the cursor is a point in time (the newest source
change it has loaded, like dbt's source freshness); for any other cursor, or a full refresh, it is as
recent as the stream's last successful sync. A connector is as fresh as its stalest current stream.
A stream that never succeeded makes the connector's age unknown; the connector is then stale once it
has existed for longer than its limit, so a connector that never ran still raises its alert.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta

from atlas.registry import ConnectorRegistry, RegistryEntry, StreamSuccess, aware_utc, utcnow
from atlas.watermark import Watermark

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Freshness:
    last_success_at: datetime | None
    data_as_of: datetime | None
    lag_seconds: float | None
    max_staleness_minutes: int | None
    stale: bool

    def describe(self, source_name: str) -> str:
        limit = f"{self.max_staleness_minutes} min"
        if self.lag_seconds is None:
            return f"connector {source_name!r}: no successful sync of all its streams yet (allowed age {limit})"
        return (
            f"connector {source_name!r}: data is {timedelta(seconds=round(self.lag_seconds))} old "
            f"(as of {self.data_as_of:%Y-%m-%d %H:%M:%S} UTC), allowed age {limit}"
        )


def stream_as_of(success: StreamSuccess) -> datetime:
    """The point in time a stream's synced data reaches."""
    if success.watermark:
        watermark = Watermark.from_json(success.watermark)
        if watermark.type == "timestamp":
            return watermark.value
        if watermark.type == "date":
            return datetime.combine(watermark.value, time(), UTC)
    return success.finished_at


def assess(
    max_staleness_minutes: int | None,
    streams: Mapping[str, StreamSuccess | None],
    created_at: datetime | None,
    now: datetime,
) -> Freshness:
    """The freshness of one connector from its current streams' newest successes."""
    successes = [s for s in streams.values() if s is not None]
    last_success_at = max((s.finished_at for s in successes), default=None)
    known = bool(streams) and len(successes) == len(streams)
    data_as_of = min(stream_as_of(s) for s in successes) if known else None
    lag = max(0.0, (now - data_as_of).total_seconds()) if data_as_of else None
    stale = False
    if max_staleness_minutes is not None:
        limit = timedelta(minutes=max_staleness_minutes).total_seconds()
        age = lag if lag is not None else (now - created_at).total_seconds() if created_at else 0.0
        stale = age > limit
    return Freshness(last_success_at, data_as_of, lag, max_staleness_minutes, stale)


def assess_entries(
    registry: ConnectorRegistry, entries: list[RegistryEntry], connector_ids: Collection[str] | None = None
) -> dict[str, Freshness]:
    """The freshness of every valid connector among ``entries``, by connector_id, as of now.

    ``connector_ids`` limits the run history read to those connectors (e.g. one connector's detail).
    """
    streams, now = registry.stream_successes(connector_ids), utcnow()
    return {
        entry.row["connector_id"]: assess(
            entry.spec.max_staleness_minutes,
            streams.get(entry.row["connector_id"], {}),
            aware_utc(entry.row.get("created_at")),
            now,
        )
        for entry in entries
        if entry.spec is not None
    }


def check_freshness(registry: ConnectorRegistry) -> list[str]:
    """Log every connector over its ``max_staleness_minutes``; return their descriptions."""
    entries = registry.entries()
    names = {e.row["connector_id"]: e.name for e in entries}
    problems = []
    for connector_id, freshness in assess_entries(registry, entries).items():
        if freshness.stale:
            problems.append(freshness.describe(names[connector_id]))
            log.error("STALE %s", problems[-1])
        elif freshness.max_staleness_minutes is not None:
            log.info("fresh: %s", freshness.describe(names[connector_id]))
    return problems
