"""The counts of one sync: a frozen value each phase returns, added up by the run.

Adding tallies is pure: integers add, `skipped` reasons add up per reason, warnings concatenate.
What a user sees at the end (the summary table, the run record's `counts`) is the sum.
"""

from __future__ import annotations

import dataclasses
import logging
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from connector.models import Rejected

log = logging.getLogger(__name__)

_EMPTY: Mapping[str, int] = MappingProxyType({})


@dataclass(frozen=True)
class SyncCounts:
    pages: int = 0
    assets_fetched: int = 0
    assets_created: int = 0
    assets_updated: int = 0
    assets_unchanged: int = 0
    assets_archived: int = 0
    assets_archived_imported: int = 0  # of the archived: assets a file import created
    assets_reactivated: int = 0
    findings_listed: int = 0  # distinct findings the listing returned
    findings_fetched: int = 0  # findings whose details (verbose records) were read
    findings_created: int = 0
    findings_updated: int = 0
    findings_unchanged: int = 0
    findings_retested: int = 0  # incremental: only the retest dates changed (no details read)
    findings_fixed_by_qualys: int = 0
    findings_fixed_absent: int = 0
    findings_reopened: int = 0
    kb_fetched: int = 0
    kb_unknown: int = 0
    kb_calls: int = 0
    severity_rederived: int = 0
    skipped: Mapping[str, int] = field(default_factory=lambda: _EMPTY)  # "kind: reason" -> n
    active_by_severity: Mapping[str, int] = field(default_factory=lambda: _EMPTY)  # at the end
    warnings: tuple[str, ...] = ()

    def __add__(self, other: SyncCounts) -> SyncCounts:
        values: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            mine, theirs = getattr(self, f.name), getattr(other, f.name)
            if isinstance(mine, int | tuple):
                values[f.name] = mine + theirs
            else:
                values[f.name] = MappingProxyType(dict(Counter(mine) + Counter(theirs)))
        return SyncCounts(**values)

    def as_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if isinstance(value, Mapping):
                value = dict(value)
            elif isinstance(value, tuple):
                value = list(value)
            data[f.name] = value
        return data


def total(parts: Iterable[SyncCounts]) -> SyncCounts:
    result = SyncCounts()
    for part in parts:
        result = result + part
    return result


def skipped(rejected: Iterable[Rejected]) -> SyncCounts:
    """The tally of records that could not be mapped, each logged once."""
    reasons: Counter[str] = Counter()
    for item in rejected:
        reasons[f"{item.kind}: {item.reason}"] += 1
        log.warning("skipped %s %s: %s", item.kind, item.ref, item.reason)
    return SyncCounts(skipped=MappingProxyType(dict(reasons))) if reasons else SyncCounts()


def warning(text: str) -> SyncCounts:
    log.warning("%s", text)
    return SyncCounts(warnings=(text,))
