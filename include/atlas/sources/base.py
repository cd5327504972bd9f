"""What every source offers the sync engine.

A source reads one *stream* (a table, a query, an endpoint) as batches of row tuples in the order of
its :class:`~atlas.schema.TableSchema`. Reading happens inside :meth:`Source.read`'s context, which for
a database is one consistent snapshot: the rows and the upper bound of the cursor come from it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, Protocol

from atlas.schema import TableSchema
from atlas.watermark import Watermark


@dataclass(frozen=True)
class CopyChunk:
    """Rows already in PostgreSQL COPY text format, for destinations that take it as is.

    Sources emit these only when :attr:`ReadRequest.copy_text` asks for them; a chunk may end inside
    a row (the next chunk continues it). ``len()`` counts the rows it completes.
    """

    data: bytes

    def __len__(self) -> int:
        return self.data.count(b"\n")


#: A batch: rows as tuples, values in schema column order (Python values: int, Decimal, str, bytes,
#: datetime — aware for TIMESTAMPTZ, naive for TIMESTAMP —, date, time, bool, dict/list for JSON, None),
#: or a :class:`CopyChunk`.
Batch = list[tuple[Any, ...]] | CopyChunk


@dataclass(frozen=True)
class ReadRequest:
    """What one run reads from a stream."""

    #: Cursor column/field for an incremental read; None reads everything.
    cursor: str | None = None
    #: Inclusive lower bound (the watermark minus the lookback); None reads everything.
    lower_bound: Watermark | None = None
    batch_size: int = 10_000
    #: The destination accepts :class:`CopyChunk` batches (PostgreSQL COPY text); a source that can
    #: produce them exactly skips decoding and re-encoding every value.
    copy_text: bool = False


class StreamRead(Protocol):
    """An open read of one stream."""

    #: The stream's columns and primary key, known before the first batch.
    schema: TableSchema

    def batches(self) -> Iterator[Batch]:
        """Rows in batches of at most ``batch_size``; memory stays bounded by one batch."""
        ...

    @property
    def upper_bound(self) -> Watermark | None:
        """Highest cursor value of what was read (valid once the batches are exhausted); None if no row."""
        ...

    @property
    def bytes_read(self) -> int | None:
        """Bytes received from the source, when the transport knows it."""
        ...


class Source(Protocol):
    """A configured source of one connector. Construct with :func:`atlas.sources.build_source`."""

    def test_connection(self) -> tuple[bool, str]:
        """Never raises: ``(True, what was reached)`` or ``(False, what to fix)``."""
        ...

    def streams(self) -> list[str]:
        """The streams this connector syncs, resolved now (e.g. the tables of a schema)."""
        ...

    def discover(self, stream: str) -> TableSchema:
        """Columns, types, nullability and primary key of ``stream`` from the source's catalog."""
        ...

    def read(self, stream: str, request: ReadRequest) -> AbstractContextManager[StreamRead]:
        """Open a consistent read of ``stream``; the snapshot ends when the context exits."""
        ...
