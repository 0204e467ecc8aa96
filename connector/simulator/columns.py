"""The findings as compact parallel arrays: one cell per finding and field, indexed by position.

Position `i` is a finding's place in ascending id order (new findings are appended with higher
ids, so the order holds). Dates are whole seconds since 2000-01-01 UTC in 32-bit cells
(`NO_DATE` when the element is absent), which keeps 250,000 findings at ~11 MB and lets a date
filter compare integers instead of generating records.
"""

from __future__ import annotations

from array import array
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from functools import lru_cache

EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
NO_DATE = -(2**31)
"""The cell value of an absent date (no fixedDate, no ignoredDate)."""
_MAX_DATE = 2**31 - 1

DATE_FIELDS = (
    "first_detected",
    "last_detected",
    "last_tested",
    "fixed_date",
    "ignored_date",
    "updated_date",
)
"""`FindingRecord` date fields kept as columns (the record reads them from here)."""


def encode_date(value: datetime | None) -> int:
    """Seconds since EPOCH for an aware datetime (`NO_DATE` for None); ValueError out of range."""
    if value is None:
        return NO_DATE
    if value.tzinfo is None:
        raise ValueError(f"dates must be timezone-aware (UTC): {value!r}")
    seconds = int((value - EPOCH).total_seconds())
    if not NO_DATE < seconds <= _MAX_DATE:
        raise ValueError(f"date {value.isoformat()} is outside the simulator's range (2000 ± 68 y)")
    return seconds


def clamp_date(value: datetime) -> int:
    """Like `encode_date`, but a date outside the range becomes its nearest end (for filters)."""
    seconds = int((value - EPOCH).total_seconds())
    return min(max(seconds, NO_DATE + 1), _MAX_DATE)


@lru_cache(maxsize=1 << 16)
def decode_date(cell: int) -> datetime | None:
    """The datetime of a cell (cached: a web app's findings share their scan dates)."""
    return None if cell == NO_DATE else EPOCH + timedelta(seconds=cell)


INDEXED = frozenset({"qids", *DATE_FIELDS})
"""Columns a selective filter may answer from a sorted index instead of a scan."""
_CACHED_SELECTIONS = 64


class SortedIndex:
    """Positions of one column sorted by value, so a range or equality filter is two bisects.

    Cells written after the build are `dirty` and checked against the column itself, as are
    positions appended after it; past a share of dirty cells the owner drops and rebuilds it."""

    __slots__ = ("dirty", "keys", "order", "size")

    def __init__(self, column: array[int]) -> None:
        self.size = len(column)
        self.order = array("i", sorted(range(self.size), key=column.__getitem__))
        self.keys = array("i", [column[p] for p in self.order])
        self.dirty: set[int] = set()

    def spans(self, op: str, values: Sequence[int]) -> list[tuple[int, int]]:
        """Slices of `order` whose keys satisfy `op values` (NO_DATE never does for ranges)."""
        keys = self.keys
        if op == "GREATER":
            return [(bisect_right(keys, values[0]), self.size)]
        if op == "LESSER":
            return [(bisect_right(keys, NO_DATE), bisect_left(keys, values[0]))]
        wanted = sorted(set(values))
        return [(bisect_left(keys, v), bisect_right(keys, v)) for v in wanted]

    def estimate(self, op: str, values: Sequence[int]) -> int:
        return sum(max(0, b - a) for a, b in self.spans(op, values)) + len(self.dirty)

    def positions(self, column: array[int], op: str, values: Sequence[int]) -> list[int]:
        """Every position whose current cell satisfies `op values`, ascending."""
        order, dirty = self.order, self.dirty
        found: list[int] = []
        for a, b in self.spans(op, values):
            if dirty:
                found.extend(p for p in order[a:b] if p not in dirty)
            else:
                found.extend(order[a:b])
        test = cell_test(op, values)
        found.extend(p for p in dirty if test(column[p]))
        found.extend(p for p in range(self.size, len(column)) if test(column[p]))
        found.sort()
        return found


def cell_test(op: str, values: Sequence[int]) -> Callable[[int], bool]:
    """One cell's test for `op values` (ranges exclude NO_DATE, the absent date)."""
    if op == "GREATER":
        low = values[0]
        return lambda v: v > low
    if op == "LESSER":
        high = values[0]
        return lambda v: NO_DATE < v < high
    if op == "NOT EQUALS":
        other = values[0]
        return lambda v: v != other
    wanted = frozenset(values)
    return lambda v: v in wanted


class FindingColumns:
    """The per-finding arrays. Codes: `types` index FINDING_TYPES, `statuses` STATUSES,
    `ignored` IGNORED_REASONS, `wa` the web app's position in the data set's web app list.

    Write cells through `set_cell`/`set_date` (or `append`) so the indexes stay right."""

    __slots__ = (
        "_indexes",
        "_selections",
        "dates",
        "ids",
        "ignored",
        "qids",
        "statuses",
        "types",
        "version",
        "wa",
    )

    def __init__(self) -> None:
        self.ids: array[int] = array("q")
        self.wa: array[int] = array("i")
        self.qids: array[int] = array("i")
        self.types: array[int] = array("b")
        self.statuses: array[int] = array("b")
        self.ignored: array[int] = array("b")
        self.dates: dict[str, array[int]] = {name: array("i") for name in DATE_FIELDS}
        self.version = 0
        """Bumped by every write; selections cached under an older version are stale."""
        self._indexes: dict[str, SortedIndex] = {}
        self._selections: dict[tuple[object, ...], list[int]] = {}

    def __len__(self) -> int:
        return len(self.ids)

    def column(self, name: str) -> array[int]:
        """A column by name: ids, wa, qids, types, statuses, ignored, or a DATE_FIELDS name."""
        found = self.dates.get(name)
        if found is not None:
            return found
        column: array[int] = getattr(self, name)
        return column

    def set_cell(self, name: str, i: int, value: int) -> None:
        column = self.column(name)
        if column[i] == value:
            return
        column[i] = value
        self.version += 1
        index = self._indexes.get(name)
        if index is not None and i < index.size:
            index.dirty.add(i)
            if len(index.dirty) > max(64, index.size // 16):
                del self._indexes[name]  # cheaper to rebuild than to check this many cells

    def estimate(self, name: str, op: str, values: Sequence[int]) -> int:
        """About how many positions satisfy the filter (builds the column's index if needed)."""
        return self._index(name).estimate(op, values)

    def select(self, name: str, op: str, values: Sequence[int]) -> list[int]:
        """Ascending positions whose `name` cell satisfies `op values`, from the index.

        Cached per data version, so keyset paging with the same filter sorts once."""
        key = (name, op, tuple(values), self.version, len(self.ids))
        found = self._selections.get(key)
        if found is None:
            found = self._index(name).positions(self.column(name), op, values)
            if len(self._selections) >= _CACHED_SELECTIONS:
                self._selections.clear()
            self._selections[key] = found
        return found

    def _index(self, name: str) -> SortedIndex:
        if name not in INDEXED:
            raise ValueError(f"column {name!r} has no index")
        index = self._indexes.get(name)
        if index is None:
            index = self._indexes[name] = SortedIndex(self.column(name))
        return index

    def append(
        self,
        finding_id: int,
        wa: int,
        qid: int,
        kind: int,
        status: int,
        ignored: int,
        dates: dict[str, int],
    ) -> int:
        """Add one finding (its id above every other); returns its position."""
        if self.ids and finding_id <= self.ids[-1]:
            raise ValueError(f"finding id {finding_id} is not above {self.ids[-1]}")
        self.ids.append(finding_id)
        self.wa.append(wa)
        self.qids.append(qid)
        self.types.append(kind)
        self.statuses.append(status)
        self.ignored.append(ignored)
        for name, column in self.dates.items():
            column.append(dates.get(name, NO_DATE))
        self.version += 1
        return len(self.ids) - 1

    def date(self, name: str, i: int) -> datetime | None:
        return decode_date(self.dates[name][i])

    def set_date(self, name: str, i: int, value: datetime | None) -> None:
        self.set_cell(name, i, encode_date(value))
