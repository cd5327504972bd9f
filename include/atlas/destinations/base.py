"""What every warehouse destination offers the sync engine."""

from __future__ import annotations

from collections.abc import Iterable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from atlas.deletes import KeySpace, WarehouseKeys
from atlas.schema import TableSchema
from atlas.sources.base import Batch

#: Per-row metadata column every target table gets: when Atlas wrote the row (UTC).
SYNCED_AT_COLUMN = "_atlas_synced_at"
#: Per-row metadata column of connectors with ``detect_deletes``: when Atlas found the row's key gone
#: from the source (UTC); NULL while the source has it. A merge of the key clears it.
DELETED_AT_COLUMN = "_atlas_deleted_at"


class LoadMode(StrEnum):
    #: Build a new table and swap it in atomically: readers never see a half-loaded table.
    REPLACE = "replace"
    #: Upsert by primary key, in one transaction with the staging load.
    MERGE = "merge"
    #: No primary key: insert; duplicates are possible when rows are re-read.
    APPEND = "append"


@dataclass(frozen=True)
class TargetTable:
    schema: str | None
    name: str

    def __str__(self) -> str:
        return f"{self.schema}.{self.name}" if self.schema else self.name


@dataclass(frozen=True)
class LoadResult:
    rows_written: int


class Destination(Protocol):
    """A warehouse. Construct with :func:`atlas.destinations.default_destination`."""

    #: Accepts :class:`~atlas.sources.base.CopyChunk` batches (PostgreSQL COPY text).
    accepts_copy_text: bool

    def target(self, target_table: str | None, source_name: str, stream: str) -> TargetTable:
        """Where a stream lands: ``target_table`` when set, else ``raw.<source_name>__<stream>``."""
        ...

    def asset_uri(self, target: TargetTable) -> str:
        """The Airflow Asset URI of a target table, e.g. ``postgres://host:5432/db/raw/t``."""
        ...

    def load(self, target: TargetTable, schema: TableSchema, batches: Iterable[Batch], mode: LoadMode) -> LoadResult:
        """Load every batch into ``target`` in ONE transaction, committed when this returns.

        Creates the table from ``schema`` if missing; adds new columns and widens types that widen
        losslessly; raises :class:`~atlas.exceptions.DestinationError` naming table, column, old and
        new type otherwise. Nothing is visible to readers before the commit. A merge clears
        ``_atlas_deleted_at`` of the rows it writes, where the table has that column.
        """
        ...

    def key_side(self, target: TargetTable, space: KeySpace) -> AbstractContextManager[WarehouseKeys]:
        """The live keys of ``target`` for delete detection, in one transaction committed at the end.

        Adds the ``_atlas_deleted_at`` column first when the table lacks it.
        """
        ...
