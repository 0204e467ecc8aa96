"""The tenant's web apps: an ascending-id list whose positions the findings' `wa` column holds.

A removed web app keeps its position (its findings still point at it) and is flagged; a new one
is appended with an id above every other.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any

from connector.simulator.records import FIRST_WEBAPP_ID, Criterion, Tag, WebAppRecord

_FIELDS: dict[str, Callable[[WebAppRecord], object]] = {
    "id": lambda w: w.id,
    "name": lambda w: w.name,
    "url": lambda w: w.url,
}
_TESTS: dict[str, Callable[[Any, tuple[Any, ...]], bool]] = {
    "EQUALS": lambda v, a: v == a[0],
    "NOT EQUALS": lambda v, a: v != a[0],
    "GREATER": lambda v, a: v > a[0],
    "LESSER": lambda v, a: v < a[0],
    "IN": lambda v, a: v in a,
    "CONTAINS": lambda v, a: str(a[0]).lower() in str(v).lower(),
}


class WebAppList:
    """Not locked itself: the owning Dataset holds its lock around every call."""

    def __init__(self, records: list[WebAppRecord]) -> None:
        self.records = records
        self.index = {w.id: i for i, w in enumerate(records)}
        """Web app id -> position."""
        self.removed: set[int] = set()
        """Positions of removed web apps."""

    def listed(self) -> list[WebAppRecord]:
        return [w for i, w in enumerate(self.records) if i not in self.removed]

    def get(self, webapp_id: int) -> WebAppRecord | None:
        i = self.index.get(webapp_id)
        return None if i is None or i in self.removed else self.records[i]

    def position(self, webapp_id: int) -> int:
        """The position of a listed web app; KeyError when there is none."""
        i = self.index.get(webapp_id)
        if i is None or i in self.removed:
            raise KeyError(f"no web app {webapp_id}")
        return i

    def matching(self, criteria: Sequence[Criterion], hidden: Iterable[int]) -> list[WebAppRecord]:
        """Listed web apps matching every criterion, leaving out the `hidden` ids."""
        hidden_ids = set(hidden)
        apps = [w for w in self.listed() if w.id not in hidden_ids]
        for c in criteria:
            getter, test = _FIELDS[c.field], _TESTS[c.operator]
            apps = [w for w in apps if test(getter(w), c.values)]
        return apps

    def add(
        self,
        name: str | None,
        url: str | None,
        tags: Sequence[Tag],
        attributes: Sequence[tuple[str, str]],
        when: datetime,
    ) -> WebAppRecord:
        new_id = (self.records[-1].id if self.records else FIRST_WEBAPP_ID - 1) + 1
        n = len(self.records)
        record = WebAppRecord(
            id=new_id,
            name=name or f"New application {n + 1}",
            url=url or f"https://new{n + 1}.example.com/",
            tags=tuple(tags),
            attributes=tuple(attributes),
            created_date=when,
            updated_date=when,
            last_scan=None,
        )
        self.records.append(record)
        self.index[new_id] = n
        return record

    def update(self, webapp_id: int, **fields: Any) -> WebAppRecord:
        if "id" in fields:
            raise ValueError("a web app's id cannot change")
        i = self.position(webapp_id)
        self.records[i] = dataclasses.replace(self.records[i], **fields)
        return self.records[i]

    def remove(self, webapp_id: int) -> None:
        i = self.index.get(webapp_id)
        if i is None:
            raise KeyError(f"no web app {webapp_id}")
        self.removed.add(i)
