"""The finding ids a listing returned, kept compact (8 bytes an id: 250,000 ids take 2 MB)."""

from __future__ import annotations

from array import array
from bisect import bisect_left, bisect_right
from collections.abc import Collection, Iterable, Iterator


class SeenKeys(Collection[str]):
    """Numeric finding keys as a sorted array; answers membership for the store's string keys."""

    def __init__(self, ids: Iterable[int] = ()) -> None:
        self._ids: array[int] = array("q", ids)
        self._sorted = not self._ids

    def add(self, key: str) -> None:
        self._ids.append(int(key))
        self._sorted = False

    def add_ids(self, ids: Iterable[int]) -> None:
        self._ids.extend(ids)
        self._sorted = False

    def __contains__(self, key: object) -> bool:
        if not isinstance(key, str) or not key.isdigit():
            return False
        ids = self._ordered()
        number = int(key)
        at = bisect_left(ids, number)
        return at < len(ids) and ids[at] == number

    def __iter__(self) -> Iterator[str]:
        return (str(number) for number in self._ordered())

    def __len__(self) -> int:
        return len(self._ordered())

    def ids(self) -> array[int]:
        """The distinct ids, ascending."""
        return self._ordered()

    def max(self) -> int | None:
        ids = self._ordered()
        return ids[-1] if ids else None

    def count_between(self, after: int | None, upper: int | None) -> int:
        """How many ids lie strictly between `after` and `upper` (None: unbounded)."""
        ids = self._ordered()
        lo = 0 if after is None else bisect_right(ids, after)
        hi = len(ids) if upper is None else bisect_left(ids, upper)
        return max(hi - lo, 0)

    def median_between(self, after: int | None, upper: int | None) -> int | None:
        """The middle id strictly between `after` and `upper`, or None when there is none."""
        ids = self._ordered()
        lo = 0 if after is None else bisect_right(ids, after)
        hi = len(ids) if upper is None else bisect_left(ids, upper)
        return ids[(lo + hi) // 2] if hi > lo else None

    def _ordered(self) -> array[int]:
        if not self._sorted:
            self._ids = array("q", sorted(set(self._ids)))
            self._sorted = True
        return self._ids
