"""Pure decisions of an import: the tally of what happened to each finding, and which findings
absent from the report become Fixed.

Writing a finding is decided by the store (`store.findings.plan_findings`, which merges each
record into what is stored: the newer source wins). Closing is decided here, and only:
- for a report at least as new as the newest one imported for that web application (an older
  report never re-closes anything);
- on the report's web applications, for findings only imports have seen (a finding the API lists
  is closed by the API sync, which knows its status);
- for the finding types the report holds in full (its SUMMARY agrees, no row of that type was
  skipped without a readable key), and not when the report was filtered;
- for findings whose information is not newer than the report;
with fixed_at = the report's date and the reason `absent from report <name>`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Container, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from connector.store.findings import CREATED, KEPT, UNCHANGED, UPDATED
from connector.store.imports import ActiveFinding

# Filters a report may carry and still list every finding of its web applications.
COMPLETE_FILTERS = frozenset({"remediation: include patched findings"})
SHOW_IGNORED = "remediation: show ignored findings"
_RANK = {CREATED: 3, UPDATED: 2, UNCHANGED: 1, KEPT: 0}


@dataclass(frozen=True)
class ClosePolicy:
    asset_keys: frozenset[str]
    types: frozenset[str] | None  # None: every type (a flat CSV)
    include_ignored: bool
    fixed_at: datetime
    reason: str


def close_policy(
    *,
    file_name: str,
    report_date: datetime | None,
    now: datetime,
    asset_keys: Collection[str],
    latest: Mapping[str, datetime],
    types: frozenset[str] | None,
    filters: Collection[str],
    enabled: bool,
) -> tuple[ClosePolicy | None, str]:
    """Whether (and where) absent findings may be closed, and the sentence that says so."""
    if not enabled:
        return None, "--no-close: findings absent from this report were left as they are"
    normalised = {" ".join(f.lower().split()) for f in filters}
    narrowing = sorted(normalised - COMPLETE_FILTERS - {SHOW_IGNORED})
    if narrowing:
        return None, (
            f"the report was filtered ({'; '.join(narrowing)}): findings absent from it were "
            "left as they are"
        )
    if types is not None and not types:
        return None, "the report holds no finding type in full: nothing was closed"
    allowed, older = [], []
    for key in asset_keys:
        newest = latest.get(key)
        if newest is None or (report_date is not None and report_date >= newest):
            allowed.append(key)
        else:
            older.append(newest)
    note = ""
    if older:
        note = (
            f"an import of a newer report ({_date(max(older))}) exists for "
            f"{len(older)} of its web applications: findings absent from this older report "
            "were left as they are there"
        )
    if not allowed:
        return None, note
    when = report_date or now
    policy = ClosePolicy(
        asset_keys=frozenset(allowed),
        types=types,
        include_ignored=SHOW_IGNORED in normalised,
        fixed_at=when,
        reason=f"absent from report {file_name} ({_date(report_date)})",
    )
    return policy, note


def to_close(
    active: Iterable[ActiveFinding], seen: Container[str], policy: ClosePolicy
) -> list[str]:
    """The keys of the Active findings this report's absence closes."""
    return [
        f.key
        for f in active
        if f.key not in seen
        and f.asset_key in policy.asset_keys
        and (policy.types is None or f.type in policy.types)
        and (policy.include_ignored or not f.ignored)
        and (f.as_of is None or f.as_of <= policy.fixed_at)
    ]


def _date(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC") if value else "undated"


@dataclass
class Tally:
    """What happened to each finding key of the file, and to its rows."""

    outcomes: dict[str, str] = field(default_factory=dict)
    seen: set[str] = field(default_factory=set)  # every finding key the file lists
    by_type: Counter[str] = field(default_factory=Counter)
    by_severity: Counter[str] = field(default_factory=Counter)
    rows: int = 0
    consolidated_rows: int = 0
    skipped: list[str] = field(default_factory=list)
    skipped_count: int = 0
    unclosable_types: set[str] = field(default_factory=set)  # a row skipped without a key
    seen_skipped: set[str] = field(default_factory=set)  # keys of skipped rows: still listed

    def seen_row(self, key: str, kind: str, severity: str) -> None:
        """A row of finding `key`: counted by type and severity the first time the key comes."""
        if key in self.seen:
            self.consolidated_rows += 1
            return
        self.seen.add(key)
        self.by_type[kind] += 1
        self.by_severity[severity] += 1

    def outcome(self, key: str, outcome: str) -> None:
        old = self.outcomes.get(key)
        if old is None or _RANK[outcome] > _RANK[old]:
            self.outcomes[key] = outcome

    def counts(self) -> Counter[str]:
        return Counter(self.outcomes.values())
