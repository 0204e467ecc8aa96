"""Keyset paging for WAS searches (`id GREATER lastId` until `hasMoreRecords` is false). No I/O.

A pager may be bounded above (`id LESSER upper`), so that several pagers cover adjacent id ranges
of one listing; the bound can be lowered while paging (another stream takes the rest).
"""

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

    def __init__(
        self,
        criteria: Sequence[Criterion] = (),
        *,
        what: str = "records",
        after: int | None = None,
        upper: int | None = None,
    ) -> None:
        self._base: list[Criterion] = []
        self._after = after
        self.upper = upper
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
        bounds = []
        if self._after is not None:
            bounds.append(Criterion("id", "GREATER", self._after))
        if self.upper is not None:
            bounds.append(Criterion("id", "LESSER", self.upper))
        return [*self._base, *bounds]

    def narrow(self, upper: int) -> None:
        """Stop at `upper` (exclusive) from the next page on; ids at or above it are paged
        elsewhere. Narrowing to at most the last id received ends the paging."""
        self.upper = upper if self.upper is None else min(self.upper, upper)
        if self._after is not None and self.upper <= self._after + 1:
            self.done = True

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
        if self.upper is not None and last_id + 1 >= self.upper:
            self.done = True  # the range is exhausted: no need to ask for an empty page
