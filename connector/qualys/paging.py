"""Keyset paging for WAS searches (`id GREATER lastId` until `hasMoreRecords` is false). No I/O."""

from __future__ import annotations

from collections.abc import Sequence

from connector.errors import QualysResponseError
from connector.qualys.requests import Criterion


class KeysetPager:
    """Hands out the criteria for the next page and refuses to loop.

    A base criterion `id GREATER n` (a resumed sync) becomes the pager's starting point instead of
    being sent twice. `advance()` raises QualysResponseError("loop detected in pagination ...") when
    Qualys names a lastId that repeats or does not increase, so a server bug can never spin forever.
    """

    def __init__(self, criteria: Sequence[Criterion] = (), *, what: str = "records") -> None:
        self._base: list[Criterion] = []
        self._after: int | None = None
        for criterion in criteria:
            if criterion.field == "id" and criterion.operator == "GREATER":
                self._after = int(criterion.text)
            else:
                self._base.append(criterion)
        self._what = what
        self.done = False
        self.pages = 0

    @property
    def last_id(self) -> int | None:
        return self._after

    def criteria(self) -> list[Criterion]:
        """The filters for the next page."""
        if self.done:
            raise RuntimeError("the pager is done: there is no next page")
        if self._after is None:
            return list(self._base)
        return [*self._base, Criterion("id", "GREATER", self._after)]

    def advance(self, *, has_more: bool, last_id: int | None) -> None:
        """Record one page's `hasMoreRecords` and `lastId`."""
        self.pages += 1
        if not has_more:
            self.done = True
            return
        if last_id is None:
            raise QualysResponseError(
                f"Qualys said more {self._what} follow page {self.pages} but sent no lastId: "
                "cannot page on"
            )
        if self._after is not None and last_id <= self._after:
            raise QualysResponseError(
                f"loop detected in pagination of {self._what}: page {self.pages} ends at id "
                f"{last_id}, not after the previous {self._after}; stopping instead of "
                "fetching the same records again"
            )
        self._after = last_id
