"""How a stored finding and a new record of it become one row: the newer source wins per field.

Pure (no I/O). Used by the findings upsert for every writer, so an import and an API sync of the
same finding meet on one row whatever order they arrive in:

- first_seen is the earliest sighting of all sources, last_seen the latest;
- the record whose `as_of` date is newer (the report's scan date; the API's lastTestedDate) wins
  every field it carries, status included; an API record carries all of its fields (its nulls are
  statements), a report record only the values it has;
- an older record changes nothing it does not fill: it may fill a field the row has no value for,
  but never one the API carries, and never the status, so an older report never reopens,
  re-closes or rolls back a finding;
- the web application of a finding the API listed is the API's;
- records of the same date (rows of one report) add up their ports.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Any

from connector.models import (
    SOURCE_API,
    SOURCE_API_AND_IMPORT,
    SOURCE_IMPORT,
    Finding,
    FindingStatus,
    has_api,
)

# The fields an API record states in full (None included). Imports carry ports and evidence too.
API_FIELDS = frozenset(
    {
        "asset_key", "name", "status", "severity", "severity_source", "unique_id", "qid", "type",
        "url", "param", "qualys_severity", "cvss_v3_base", "cvss_v3_temporal", "attack_vector",
        "cwes", "owasp", "wasc", "qualys_status", "ignored_reason", "fixed_at",
    }
)  # fmt: skip
# Decided by the winner together: a status comes with its own fixed date and Qualys status.
_STATUS_FIELDS = ("status", "fixed_at", "qualys_status")
_SEVERITY_FIELDS = ("severity", "severity_source")
# The winner's own, never filled from the other record: which report row it merged last.
_WINNER_FIELDS = ("input_digest",)
_MERGED = frozenset({"key", "first_seen", "last_seen", "source", "as_of"})
_FIELDS = tuple(f.name for f in dataclasses.fields(Finding) if f.name not in _MERGED)


def effective_as_of(finding: Finding) -> datetime | None:
    """The date a record's information holds at: its as_of, else (API records) its last_seen."""
    return finding.as_of or finding.last_seen


def is_newer(incoming: Finding, stored: Finding, *, closed_by_api: bool = False) -> bool:
    """Whether `incoming` wins over `stored`: its date is at least as new. An API record with no
    date at all is the current listing (it wins); an undated report never does. A finding the
    API sync closed as absent (`closed_by_api`) is the API's to reopen whatever its dates: the
    sync saw it missing, and sees it listed again."""
    if closed_by_api and has_api(incoming.source):
        return True
    new, old = effective_as_of(incoming), effective_as_of(stored)
    if new is None:
        return has_api(incoming.source) or old is None
    return old is None or new >= old


def _empty(value: Any) -> bool:
    return value is None or value in ((), "")


def merged_source(a: str, b: str) -> str:
    sources = {a, b}
    api = any(has_api(s) for s in sources)
    imported = any(s in (SOURCE_IMPORT, SOURCE_API_AND_IMPORT) for s in sources)
    if api and imported:
        return SOURCE_API_AND_IMPORT
    return SOURCE_API if api else SOURCE_IMPORT


def _earliest(a: datetime | None, b: datetime | None) -> datetime | None:
    return a if b is None else b if a is None else min(a, b)


def _latest(a: datetime | None, b: datetime | None) -> datetime | None:
    return a if b is None else b if a is None else max(a, b)


def merge_finding(
    stored: Finding | None, incoming: Finding, *, closed_by_api: bool = False
) -> Finding:
    """The row that results from writing `incoming` over `stored` (None: a new finding)."""
    if stored is None:
        return incoming
    newer = is_newer(incoming, stored, closed_by_api=closed_by_api)
    winner, loser = (incoming, stored) if newer else (stored, incoming)
    winner_is_full = has_api(winner.source)  # an API (or already merged) record: nulls count
    loser_is_api = has_api(loser.source)
    values: dict[str, Any] = {}
    for name in _FIELDS:
        if name in _STATUS_FIELDS or name in _SEVERITY_FIELDS or name in _WINNER_FIELDS:
            continue
        ours, theirs = getattr(winner, name), getattr(loser, name)
        stated = not _empty(ours) or (winner_is_full and name in API_FIELDS)
        values[name] = ours if stated else theirs
    for group in (_STATUS_FIELDS, _SEVERITY_FIELDS, _WINNER_FIELDS):
        for name in group:
            values[name] = getattr(winner, name)
    if loser_is_api and not winner_is_full:
        values["asset_key"] = loser.asset_key  # a finding the API listed stays on its web app
    if values["status"] is not FindingStatus.FIXED:
        values["fixed_at"] = None
    if effective_as_of(incoming) == effective_as_of(stored):  # one scan's rows: every port
        values["ports"] = tuple(sorted(set(incoming.ports) | set(stored.ports)))
    return dataclasses.replace(
        winner,
        **values,
        first_seen=_earliest(stored.first_seen, incoming.first_seen),
        last_seen=_latest(stored.last_seen, incoming.last_seen),
        source=merged_source(stored.source, incoming.source),
        as_of=_latest(effective_as_of(stored), effective_as_of(incoming))
        if (stored.as_of or incoming.as_of)
        else None,
    )
