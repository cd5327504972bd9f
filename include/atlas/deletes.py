"""Hard deletes without CDC: find the warehouse rows whose primary key the source no longer has.

An incremental sync reads the rows whose cursor moved; a row deleted in the source never moves, so
the warehouse would keep it forever. With ``config.detect_deletes``, every incremental run ends by
comparing the source table's *keys* with the warehouse table's live keys; the sync then sets
``_atlas_deleted_at`` on the warehouse rows whose key is gone (never a physical delete). Only keys are
compared — existence, not values: changed rows are the incremental read's business.

The method is data-diff's checksummed bisection. The key space is cut into segments; for every segment
both sides compute ``count(*)`` and the sum of a hash of the key, all segments of a level in ONE
``GROUP BY`` query per side (on PostgreSQL, for integer keys, the first level is one aggregate per key
range in a ``LATERAL`` join: PostgreSQL plans a ``GROUP BY`` of key ranges as one group per key and
hashes every row into groups in one process). Segments whose (count, sum) agree hold the same keys
and are done; differing ones are cut 16 ways and compared again, and small ones are diffed key by key.
With a few scattered deletes that is one scan of each side, index range scans of the few differing
segments, and a few thousand keys fetched.

The key space (:class:`KeySpace`):

* when the first key column is an integer, segments are ranges of that column, so the levels below
  the first read only the differing ranges through the primary key's index;
* otherwise (text, uuid), segments are ranges of a 32-bit hash of the key: every level is a full scan
  of the table, so such keys go straight from the first level to the key-by-key diff.

The hash (:class:`Dialect`): between two PostgreSQL databases PostgreSQL's own ``hashint8`` /
``hashtext`` (cheapest); otherwise a xor-multiply-xorshift hash in bit operations for a single integer key
(the same value on PostgreSQL, MySQL/MariaDB and SQLite) and the first 32 bits of ``md5`` of the key text (SQLite has no
``md5``: a Python function is registered on its connection). A hash collision can only make a
differing segment look equal — a delete found one run later — never mark a live row: rows are marked
from the key-by-key diff alone.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Protocol, TypeVar

from atlas.schema import Kind, TableSchema

log = logging.getLogger(__name__)

#: A key as both sides render it: the canonical text of each key column.
Key = tuple[str, ...]

_INTEGER_KINDS = (Kind.INT16, Kind.INT32, Kind.INT64)
KEY_KINDS = (*_INTEGER_KINDS, Kind.TEXT, Kind.UUID)
#: Buckets of the first level (a power of two): fine enough that scattered deletes leave most equal.
FIRST_LEVEL_BITS = 12
#: Each further level cuts a differing segment into 2**FANOUT_BITS.
FANOUT_BITS = 4
#: A differing segment with at most this many rows on either side is diffed key by key. Range keys
#: reach it cheaply through the index; hash-space segments cost a full scan per level, so they stop early.
LEAF_ROWS_RANGE = 64
LEAF_ROWS_HASH = 4096
#: Key ranges per query on range keys.
MAX_RANGES_PER_QUERY = 1000
_HASH_SPACE_BITS = 32
_INT64_MAX = (1 << 63) - 1
_SEPARATOR = 31  # ASCII unit separator between the columns of a composite key's text
# The portable integer hash (:meth:`KeySpace.term`): the key's two 32-bit halves xor-ed, multiplied, and the low 32
# bits of the product xor-ed with its bits 16-47 — bit operations all three dialects compute alike (MariaDB's
# % is slow), no intermediate value reaches 2**63, and as few as give a sum of hashes that a few swapped
# keys do not leave equal (a multiply alone is linear: deleting 4 and 8 and inserting 5 and 7 would not show).
_MASK32, _MULTIPLIER = 0xFFFFFFFF, 0x45D9F3B


def md5_32(text: str) -> int:
    """The first 32 bits of the md5 of ``text`` (UTF-8): SQLite's stand-in for the servers' ``md5``."""
    return int(hashlib.md5(text.encode()).hexdigest()[:8], 16)


@dataclass(frozen=True)
class Dialect:
    """How one SQL engine spells the few expressions the key comparison needs."""

    name: str  # "postgresql" | "mysql" | "sqlite"
    quote: Callable[[str], str]
    #: Casts an integer expression to 64 bits (PostgreSQL's int4 arithmetic would overflow).
    int64: str = "{}"
    xor: str = "(({0} | {1}) - ({0} & {1}))"  # SQLite has no XOR operator
    integer_text: str = "CAST({} AS TEXT)"
    text: str = "{}"
    md5_32: str = "atlas_md5_32({})"
    separator: str = f"char({_SEPARATOR})"
    #: Appended to a GROUP BY (MariaDB sorts grouped results unless told not to).
    group_suffix: str = ""
    #: Key ranges are read best as a join with a list of bounds (one index range scan per bound); else as
    #: an OR of ranges (MariaDB joins a derived list by scanning the whole index; its range optimizer
    #: turns an OR of ranges into range scans).
    join_ranges: bool = True
    #: The first level of range keys is read best as one aggregate per bucket in a LATERAL join over the
    #: bucket numbers (see :meth:`SqlKeys.checksums`); else as a GROUP BY.
    lateral_buckets: bool = False

    def concat(self, parts: Sequence[str]) -> str:
        if self.name == "mysql":
            return f"CONCAT_WS({self.separator}, {', '.join(parts)})"
        return f" || {self.separator} || ".join(f"({p})" for p in parts)


def _double_quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


POSTGRESQL = Dialect(
    "postgresql",
    _double_quote,
    int64="CAST({} AS bigint)",
    xor="({0} # {1})",
    integer_text="CAST({} AS text)",
    text="concat({})",  # a char(n)'s padding kept, as its value is loaded (a cast to text drops it)
    md5_32="('x' || substr(md5({}), 1, 8))::bit(32)::bigint",
    separator=f"chr({_SEPARATOR})",
    lateral_buckets=True,
)
MYSQL = Dialect(
    "mysql",
    lambda identifier: "`" + identifier.replace("`", "``") + "`",
    xor="({0} ^ {1})",
    integer_text="CAST({} AS CHAR)",
    text="CONVERT({} USING utf8mb4)",
    md5_32="CAST(CONV(SUBSTR(MD5({}), 1, 8), 16, 10) AS UNSIGNED)",
    separator=f"CHAR({_SEPARATOR} USING utf8mb4)",
    group_suffix=" ORDER BY NULL",
    join_ranges=False,
)
SQLITE = Dialect("sqlite", _double_quote)


@dataclass(frozen=True)
class KeySpace:
    """The primary key being compared, and how it is cut into segments and hashed."""

    columns: tuple[str, ...]
    kinds: tuple[Kind, ...]
    #: Both sides are PostgreSQL: its built-in hash functions apply.
    native_pg_hash: bool = False

    @classmethod
    def of(cls, schema: TableSchema) -> KeySpace:
        """The key space of a stream's primary key; ValueError saying why when it cannot be compared."""
        if not schema.primary_key:
            raise ValueError(
                f"{schema.name!r} has no primary key; set config.primary_key to the column(s) identifying a "
                "row, or turn detect_deletes off"
            )
        by_name = {c.name: c for c in schema.columns}
        kinds = tuple(by_name[name].type.kind for name in schema.primary_key)
        unsupported = [(n, k) for n, k in zip(schema.primary_key, kinds, strict=True) if k not in KEY_KINDS]
        if unsupported:
            shown = ", ".join(f"{name!r} ({kind})" for name, kind in unsupported)
            raise ValueError(f"primary key column {shown} of {schema.name!r}: keys must be integer, text or uuid")
        return cls(tuple(schema.primary_key), kinds)

    def for_pair(self, source: Dialect, warehouse: Dialect) -> KeySpace:
        native = source.name == warehouse.name == "postgresql"
        return KeySpace(self.columns, self.kinds, native)

    @property
    def ranges_of_key(self) -> bool:
        """Segments are ranges of the first key column (an integer); else ranges of the key's hash."""
        return self.kinds[0] in _INTEGER_KINDS

    @property
    def leaf_rows(self) -> int:
        return LEAF_ROWS_RANGE if self.ranges_of_key else LEAF_ROWS_HASH

    # ------------------------------------------------------------------------------ expressions
    def key_text(self, dialect: Dialect) -> list[str]:
        """Each key column as its canonical text: what the leaves compare and md5 hashes."""
        out = []
        for name, kind in zip(self.columns, self.kinds, strict=True):
            template = dialect.integer_text if kind in _INTEGER_KINDS else dialect.text
            out.append(template.format(dialect.quote(name)))
        return out

    def _joined_text(self, dialect: Dialect) -> str:
        parts = self.key_text(dialect)
        return parts[0] if len(parts) == 1 else dialect.concat(parts)

    def term(self, dialect: Dialect) -> str:
        """The per-row hash summed by a checksum."""
        single_integer = len(self.columns) == 1 and self.ranges_of_key
        if self.native_pg_hash:
            if single_integer:
                return f"hashint8({dialect.quote(self.columns[0])})"
            return f"hashtext({self._joined_text(dialect)})"
        if single_integer:
            key = dialect.int64.format(dialect.quote(self.columns[0]))
            # The low 32 bits of key ^ (key >> 32) are the same whether >> is arithmetic or logical.
            product = f"(({dialect.xor.format(key, f'({key} >> 32)')} & {_MASK32}) * {_MULTIPLIER})"
            return f"({dialect.xor.format(product, f'({product} >> 16)')} & {_MASK32})"
        return dialect.md5_32.format(self._joined_text(dialect))

    def position(self, dialect: Dialect) -> str:
        """Where a row lies in the key space: the first key column, or the key's 32-bit hash."""
        if self.ranges_of_key:
            return dialect.quote(self.columns[0])
        if self.native_pg_hash:
            return f"(hashtext({self._joined_text(dialect)})::bigint & {(1 << _HASH_SPACE_BITS) - 1})"
        return dialect.md5_32.format(self._joined_text(dialect))


@dataclass(frozen=True)
class Segments:
    """Parts of the key space: bucket ``b`` at ``shift`` is ``[origin + b << shift, origin + (b + 1) << shift)``."""

    origin: int
    buckets: dict[int, tuple[int, ...]]  # shift -> sorted bucket numbers

    def ranges(self) -> list[tuple[int, int]]:
        """The segments as sorted, merged half-open position ranges."""
        spans = sorted(
            (self.origin + (b << shift), self.origin + ((b + 1) << shift))
            for shift, buckets in self.buckets.items()
            for b in buckets
        )
        merged: list[tuple[int, int]] = []
        for lo, hi in spans:
            if merged and lo <= merged[-1][1]:
                merged[-1] = (merged[-1][0], max(hi, merged[-1][1]))
            else:
                merged.append((lo, hi))
        return merged


class KeySide(Protocol):
    """The live keys of one table, as the comparison reads them (a source table, or a warehouse table
    without its rows marked deleted). Implemented for SQL by :class:`SqlKeys`."""

    dialect: Dialect
    #: Queries may run on another thread than the one that opened the connection (not SQLite's).
    thread_safe: bool

    def bounds(self, space: KeySpace) -> tuple[int, int] | None:
        """Smallest and largest first key column (integer keys); None when the table has no row."""
        ...

    def checksums(
        self, space: KeySpace, origin: int, shift: int, within: Segments | None
    ) -> dict[int, tuple[int, int]]:
        """``bucket -> (count, sum of hashes)`` of the buckets at ``shift`` (those inside ``within``)."""
        ...

    def keys(self, space: KeySpace, within: Segments) -> set[Key]:
        """Every key inside ``within``."""
        ...


class WarehouseKeys(KeySide, Protocol):
    """The warehouse's side: its live keys, and the marking of rows (inside its open transaction)."""

    def mark_deleted(self, keys: Sequence[Key]) -> int:
        """Set ``_atlas_deleted_at`` on the live rows of ``keys``; return how many were marked."""
        ...

    def unmark(self, keys: Sequence[Key]) -> int:
        """Clear ``_atlas_deleted_at`` on the marked rows of ``keys`` (back in the source); return how many."""
        ...


@dataclass
class KeyDiff:
    """What the comparison found."""

    #: Live warehouse keys the source does not have: the rows to mark deleted.
    deleted: list[Key] = field(default_factory=list)
    #: Source keys the warehouse has no live row for: marked rows that reappeared, or rows not loaded yet.
    missing: list[Key] = field(default_factory=list)
    warehouse_rows: int = 0
    source_rows: int = 0
    levels: int = 0
    leaf_keys: int = 0


class TooManyDeletes(Exception):
    """More warehouse rows would be marked deleted than the guard allows. ``at_least``: the comparison
    stopped early, ``deleted`` is a lower bound."""

    def __init__(self, deleted: int, warehouse_rows: int, at_least: bool):
        self.deleted, self.warehouse_rows, self.at_least = deleted, warehouse_rows, at_least
        super().__init__(f"{'at least ' if at_least else ''}{deleted} of {warehouse_rows} rows")


T = TypeVar("T")


class _Pair:
    """Runs the same request on both sides: the source's on a worker thread when its connection allows
    it, so both databases work at the same time."""

    def __init__(self, source: KeySide, warehouse: KeySide):
        self.source, self.warehouse = source, warehouse
        self._pool = ThreadPoolExecutor(1) if source.thread_safe else None

    def __call__(self, request: Callable[[KeySide], T]) -> tuple[T, T]:
        if self._pool is None:
            return request(self.source), request(self.warehouse)
        on_source = self._pool.submit(request, self.source)
        on_warehouse = request(self.warehouse)
        return on_source.result(), on_warehouse

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown()


@dataclass(frozen=True)
class DeleteCheck:
    """One run's delete detection: what it marked and what it read."""

    marked: int
    unmarked: int
    #: Source keys with no warehouse row at all (committed after this run's read, or missed by the cursor).
    not_in_warehouse: int
    warehouse_rows: int
    levels: int
    leaf_keys: int


def detect_deletes(
    source: KeySide, warehouse: WarehouseKeys, space: KeySpace, max_delete_fraction: float
) -> DeleteCheck:
    """Mark the warehouse rows whose key the source lost; unmark those whose key is back.

    Raises :class:`TooManyDeletes` (marking nothing) when more than ``max_delete_fraction`` of the
    warehouse's live rows would be marked.
    """
    diff = diff_keys(source, warehouse, space.for_pair(source.dialect, warehouse.dialect), max_delete_fraction)
    marked = warehouse.mark_deleted(diff.deleted)
    unmarked = warehouse.unmark(diff.missing)
    return DeleteCheck(marked, unmarked, len(diff.missing) - unmarked, diff.warehouse_rows, diff.levels, diff.leaf_keys)


def diff_keys(source: KeySide, warehouse: KeySide, space: KeySpace, max_delete_fraction: float) -> KeyDiff:
    """Compare the keys of both sides by checksummed bisection (see the module's doc).

    Raises :class:`TooManyDeletes` as soon as the counts alone show that more than
    ``max_delete_fraction`` of the warehouse's live rows are gone from the source (e.g. a truncated
    source table), without reading any key.
    """
    pair = _Pair(source, warehouse)
    try:
        return _bisect(pair, space, max_delete_fraction)
    finally:
        pair.close()


def _bisect(pair: _Pair, space: KeySpace, max_delete_fraction: float) -> KeyDiff:
    diff = KeyDiff()
    if space.ranges_of_key:
        bounds = [b for b in pair(lambda side: side.bounds(space)) if b is not None]
        if not bounds:
            return diff
        origin, top = min(b[0] for b in bounds), max(b[1] for b in bounds)
    else:
        origin, top = 0, (1 << _HASH_SPACE_BITS) - 1
    shift = max(0, (top - origin).bit_length() - FIRST_LEVEL_BITS)
    within: Segments | None = None
    leaves: dict[int, tuple[int, ...]] = {}
    while True:
        diff.levels += 1
        ours, theirs = pair(lambda side: side.checksums(space, origin, shift, within))  # noqa: B023
        if within is None:
            diff.source_rows = sum(count for count, _ in ours.values())
            diff.warehouse_rows = sum(count for count, _ in theirs.values())
            # Rows the counts alone prove gone: a truncated or emptied source stops here.
            surplus = sum(max(0, theirs[b][0] - ours.get(b, (0, 0))[0]) for b in theirs)
            _guard(surplus, diff.warehouse_rows, max_delete_fraction, at_least=True)
        differing = sorted(b for b in ours.keys() | theirs.keys() if ours.get(b) != theirs.get(b))
        small = [b for b in differing if shift == 0 or _rows(ours, theirs, b) <= space.leaf_rows]
        large = [b for b in differing if shift != 0 and _rows(ours, theirs, b) > space.leaf_rows]
        if small:
            leaves[shift] = tuple(small)
        if not large:
            break
        within = Segments(origin, {shift: tuple(large)})
        shift = max(0, shift - FANOUT_BITS)
    if leaves:
        segments = Segments(origin, leaves)
        source_keys, warehouse_keys = pair(lambda side: side.keys(space, segments))
        diff.leaf_keys = len(source_keys) + len(warehouse_keys)
        diff.deleted = sorted(warehouse_keys - source_keys)
        diff.missing = sorted(source_keys - warehouse_keys)
        _guard(len(diff.deleted), diff.warehouse_rows, max_delete_fraction, at_least=False)
    return diff


def _rows(ours: dict[int, tuple[int, int]], theirs: dict[int, tuple[int, int]], bucket: int) -> int:
    return max(ours.get(bucket, (0, 0))[0], theirs.get(bucket, (0, 0))[0])


def _guard(deleted: int, warehouse_rows: int, max_delete_fraction: float, *, at_least: bool) -> None:
    if deleted and deleted > max_delete_fraction * warehouse_rows:
        raise TooManyDeletes(deleted, warehouse_rows, at_least)


class SqlKeys:
    """:class:`KeySide` over one open SQL connection: a source's snapshot or the warehouse's transaction.

    ``run`` executes a statement without parameters and returns its rows (every value in the SQL is an
    integer computed here or an identifier quoted by the dialect); ``table`` is the quoted table name and
    ``live`` a condition selecting the rows to compare (the warehouse: rows not marked deleted).
    """

    def __init__(
        self,
        dialect: Dialect,
        run: Callable[[str], list[tuple]],
        table: str,
        *,
        live: str | None = None,
        thread_safe: bool = True,
    ):
        self.dialect, self._run, self._table, self._live = dialect, run, table, live
        self.thread_safe = thread_safe

    def bounds(self, space: KeySpace) -> tuple[int, int] | None:
        column = self.dialect.quote(space.columns[0])
        live = f" WHERE {self._live}" if self._live else ""
        (low, high), *_ = self._run(f"SELECT min({column}), max({column}) FROM {self._table}{live}")
        return None if low is None else (int(low), int(high))

    def checksums(
        self, space: KeySpace, origin: int, shift: int, within: Segments | None
    ) -> dict[int, tuple[int, int]]:
        if within is None and space.ranges_of_key and self.dialect.lateral_buckets:
            return self._lateral_checksums(space, origin, shift)
        position = space.position(self.dialect)
        # Shifted as 64-bit: a position minus the origin may exceed a 32-bit column's range.
        bucket = f"(({self.dialect.int64.format(position)} - ({origin})) >> {shift})"
        columns = f"{bucket}, count(*), sum({space.term(self.dialect)})"
        out: dict[int, tuple[int, int]] = {}
        for statement in self._selects(space, within, columns):
            for b, count, total in self._run(f"{statement} GROUP BY 1{self.dialect.group_suffix}"):
                out[int(b)] = (int(count), int(total))
        return out

    def _lateral_checksums(self, space: KeySpace, origin: int, shift: int) -> dict[int, tuple[int, int]]:
        """The first level of range keys as one index range scan and plain aggregate per bucket.

        PostgreSQL estimates a ``GROUP BY`` of the key's buckets to have one group per key, so it hashes
        every row in one process; an aggregate per bucket over the index costs about half as much. The
        bucket bounds are computed as numeric: they may pass the 64-bit range, where they are clamped.
        """
        column = self.dialect.quote(space.columns[0])
        live = f"{self._live} AND " if self._live else ""
        step = 1 << shift
        last = f"(SELECT div(max({column})::numeric - ({origin}), {step}) FROM {self._table} WHERE {live}TRUE)"
        low = f"CAST({origin} + atlas_bucket * {step} AS bigint)"
        high = f"CAST(least({origin} + (atlas_bucket + 1) * {step} - 1, {_INT64_MAX}) AS bigint)"
        rows = self._run(
            "SELECT atlas_bucket, atlas_count, atlas_sum"
            f" FROM generate_series(0, {last}) AS atlas_buckets (atlas_bucket),"
            f" LATERAL (SELECT count(*) AS atlas_count, sum({space.term(self.dialect)}) AS atlas_sum"
            f" FROM {self._table} WHERE {live}{column} BETWEEN {low} AND {high}) AS atlas_checksum"
            " WHERE atlas_count > 0"
        )
        return {int(b): (int(count), int(total)) for b, count, total in rows}

    def keys(self, space: KeySpace, within: Segments) -> set[Key]:
        found: set[Key] = set()
        for statement in self._selects(space, within, ", ".join(space.key_text(self.dialect))):
            found.update(tuple(v if isinstance(v, str) else str(v) for v in row) for row in self._run(statement))
        return found

    def _selects(self, space: KeySpace, within: Segments | None, columns: str) -> Iterable[str]:
        """SELECTs of ``columns`` over the live rows inside ``within`` (None: all), one per query to run."""
        live = f" WHERE {self._live}" if self._live else ""
        if within is None:
            yield f"SELECT {columns} FROM {self._table}{live}"
            return
        position = space.position(self.dialect)
        if not space.ranges_of_key:
            # A hash is not indexed: one scan, testing each row's bucket against a list.
            listed = " OR ".join(
                f"(({position} >> {shift}) IN ({', '.join(map(str, buckets))}))"
                for shift, buckets in within.buckets.items()
            )
            yield self._select_where(columns, listed)
            return
        # Key ranges, with inclusive bounds (an exclusive one could overflow 64 bits). PostgreSQL reads an OR
        # of ranges through a bitmap of the table's pages; joined with a list of bounds, it scans the index.
        ranges = [(lo, min(hi - 1, _INT64_MAX)) for lo, hi in within.ranges()]
        for start in range(0, len(ranges), MAX_RANGES_PER_QUERY):
            chunk = ranges[start : start + MAX_RANGES_PER_QUERY]
            if self.dialect.join_ranges:
                bounds = ", ".join(f"({lo}, {hi})" for lo, hi in chunk)
                yield (
                    f"WITH atlas_ranges (atlas_lo, atlas_hi) AS (VALUES {bounds}) SELECT {columns} FROM atlas_ranges"
                    f" JOIN {self._table} ON {position} >= atlas_lo AND {position} <= atlas_hi{live}"
                )
            else:
                yield self._select_where(
                    columns, " OR ".join(f"({position} BETWEEN {lo} AND {hi})" for lo, hi in chunk)
                )

    def _select_where(self, columns: str, condition: str) -> str:
        return f"SELECT {columns} FROM {self._table} WHERE {self._live + ' AND ' if self._live else ''}({condition})"
