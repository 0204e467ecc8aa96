"""A realistic day of changes to a tenant, for equivalence tests and the incremental benchmark.

`simulate_day(dataset, seed, when, share)` applies, to about `share` of the listed findings, a
mix of every event `events.py` describes: retests without change, fixes and reopenings by
rescans, triage in the UI (ignore, change of reason, un-ignore), new findings (information
gathered ones too), purged findings, whole rescans of small web apps, and optionally removed
web apps. Each finding changes at most once a day; events happen at whole seconds spread over
the day ending at `when` (after the data set's clock, which then moves to `when`). The same
seed on the same data set gives the same changes.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from connector.simulator import events
from connector.simulator.records import (
    FINDING_TYPES,
    IGNORED_REASONS,
    INFORMATION_GATHERED,
    STATUSES,
    Criterion,
)

if TYPE_CHECKING:
    from connector.simulator.dataset import Dataset

_MIX = (
    ("retested", 0.30),
    ("fixed", 0.18),
    ("reopened", 0.06),
    ("ignored", 0.07),
    ("reignored", 0.03),
    ("unignored", 0.03),
    ("added", 0.15),
    ("added_informational", 0.04),
    ("removed", 0.08),
)
"""Share of the day's single-finding events per kind (whole rescans come on top, within the
budget)."""
_OPEN = ("NEW", "ACTIVE", "REOPENED")


@dataclass(frozen=True)
class DayChanges:
    """What one simulated day changed, by finding id (web app ids where named so)."""

    when: datetime
    retested: tuple[int, ...] = ()
    """Tested again without a change of status (single retests and whole rescans)."""
    fixed: tuple[int, ...] = ()
    reopened: tuple[int, ...] = ()
    ignored: tuple[int, ...] = ()
    """Newly ignored in the UI."""
    reignored: tuple[int, ...] = ()
    """Already ignored, given another reason."""
    unignored: tuple[int, ...] = ()
    added: tuple[int, ...] = ()
    added_informational: tuple[int, ...] = ()
    removed: tuple[int, ...] = ()
    """Purged: no longer listed."""
    rescanned_webapps: tuple[int, ...] = ()
    removed_webapps: tuple[int, ...] = ()
    removed_with_webapps: tuple[int, ...] = ()
    """Findings no longer listed because their web app was removed."""
    at: dict[int, datetime] = field(default_factory=dict)
    """When each changed or added finding changed (its new lastTestedDate or updatedDate)."""

    @property
    def changed(self) -> frozenset[int]:
        """Ids still listed whose record changed, new ones included."""
        return frozenset(
            (
                *self.retested,
                *self.fixed,
                *self.reopened,
                *self.ignored,
                *self.reignored,
                *self.unignored,
                *self.added,
                *self.added_informational,
            )
        )

    @property
    def gone(self) -> frozenset[int]:
        return frozenset((*self.removed, *self.removed_with_webapps))

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready: each kind's ids, plus totals (what POST /_simulator/day answers)."""
        kinds = {
            name: list(getattr(self, name))
            for name in (
                "retested",
                "fixed",
                "reopened",
                "ignored",
                "reignored",
                "unignored",
                "added",
                "added_informational",
                "removed",
                "rescanned_webapps",
                "removed_webapps",
                "removed_with_webapps",
            )
        }
        return {
            "when": self.when.isoformat(),
            **kinds,
            "changed": len(self.changed),
            "gone": len(self.gone),
        }


def simulate_day(
    data: Dataset,
    rng_seed: int,
    when: datetime,
    share: float = 0.05,
    *,
    rescans: int = 1,
    removed_webapps: int = 0,
) -> DayChanges:
    """Apply a day of changes to about `share` of the findings (see the module docstring).

    Up to `rescans` web apps are rescanned whole, picked among those with at most `share` of
    the findings (none on a tenant without so small a web app), and the `removed_webapps`
    smallest web apps are removed with their findings; single-finding events use the rest of
    the budget, and at least half of it."""
    if not 0.0 <= share <= 1.0:
        raise ValueError("share must be between 0 and 1")
    with data.lock:
        if when <= data.now:
            raise ValueError(
                f"the day must end after the data set's clock ({data.now.isoformat()}): "
                f"got {when.isoformat()}"
            )
        day = _Day(data, random.Random(rng_seed), max(data.now, when - timedelta(days=1)), when)  # noqa: S311 - test data
        budget = round(data.finding_count() * share)
        day.remove_webapps(removed_webapps)
        tested = day.rescan_webapps(rescans, budget)
        day.single_events(max(budget - tested, budget // 2))
        data.now = when
        data.version += 1
        return day.result()


class _Day:
    """The day being built: which findings it already touched, and what it did."""

    def __init__(self, data: Dataset, rng: random.Random, start: datetime, end: datetime) -> None:
        self.data = data
        self.rng = rng
        self.start = start
        self.seconds = max(1, int((end - start).total_seconds()))
        self.end = end
        self.used: set[int] = set()
        self.used_webapps: set[int] = set()
        self.done: dict[str, list[int]] = {name: [] for name, _ in _MIX}
        self.done.update(rescanned_webapps=[], removed_webapps=[], removed_with_webapps=[])
        self.at: dict[int, datetime] = {}

    def moment(self) -> datetime:
        return self.start + timedelta(seconds=self.rng.randint(1, self.seconds))

    def small_webapps(self, most: int | None = None) -> list[int]:
        """Web apps with findings (at most `most`), smallest first, ties in seeded order."""
        sizes = self.data.finding_counts_by_webapp()
        apps = [a for a, n in sorted(sizes.items()) if most is None or n <= most]
        self.rng.shuffle(apps)
        return sorted(apps, key=sizes.__getitem__)

    def remove_webapps(self, count: int) -> int:
        """Remove the `count` smallest web apps; returns how many findings went with them."""
        gone = 0
        for webapp_id in self.small_webapps()[:count]:
            ids = [self.data.columns.ids[i] for i in self.data.positions_of_webapp(webapp_id)]
            self.data.remove_webapp(webapp_id)
            self.done["removed_webapps"].append(webapp_id)
            self.used_webapps.add(webapp_id)
            self.done["removed_with_webapps"].extend(ids)
            self.used.update(ids)
            gone += len(ids)
        return gone

    def rescan_webapps(self, count: int, budget: int) -> int:
        """Rescan up to `count` web apps whole, chosen at random among those that fit in the
        budget together; returns how many findings were tested."""
        tested = 0
        sizes = self.data.finding_counts_by_webapp()
        fitting = [a for a in self.small_webapps(budget) if a not in self.used_webapps]
        self.rng.shuffle(fitting)
        for webapp_id in fitting:
            if count <= 0 or tested + sizes[webapp_id] > budget:
                continue
            count -= 1
            cols, data = self.data.columns, self.data
            positions = data.positions_of_webapp(webapp_id)
            status_of = {cols.ids[i]: STATUSES[cols.statuses[i]] for i in positions}
            open_ids = [f for f, s in status_of.items() if s in _OPEN]
            fixed_ids = [f for f, s in status_of.items() if s == "FIXED"]
            fix = self.rng.sample(open_ids, len(open_ids) // 10)
            reopen = self.rng.sample(fixed_ids, len(fixed_ids) // 20)
            when = self.moment()
            result = events.rescan(data, webapp_id, when, set(fix), set(reopen))
            self.done["rescanned_webapps"].append(webapp_id)
            self.done["retested"].extend(result.retested)
            self.done["fixed"].extend(result.fixed)
            self.done["reopened"].extend(result.reopened)
            for fid in status_of:
                self.at[fid] = when
            self.used.update(status_of)
            self.used_webapps.add(webapp_id)
            tested += len(status_of)
        return tested

    def single_events(self, budget: int) -> None:
        wanted = {name: round(budget * weight) for name, weight in _MIX}
        pools = self._pools()
        for name in ("retested", "fixed", "reopened", "ignored", "reignored", "unignored"):
            for fid in self._pick(pools[name], wanted[name]):
                self._apply(name, fid)
        for fid in self._pick(pools["removed"], wanted["removed"]):
            self.data.remove_finding(fid)
            self.done["removed"].append(fid)
        self._add(wanted["added"], wanted["added_informational"])

    def _pools(self) -> dict[str, list[int]]:
        ids = self.data.finding_ids

        def status(*names: str) -> list[Criterion]:
            return [Criterion("status", "IN", names)]

        scannable = ("VULNERABILITY", "SENSITIVE_CONTENT")
        informational = ids([Criterion("type", "EQUALS", ("INFORMATION_GATHERED",))])
        open_ids = ids(status(*_OPEN))
        return {
            "retested": open_ids + informational,
            "fixed": open_ids,
            "reopened": ids(status("FIXED")),
            "ignored": ids([*status(*_OPEN), Criterion("type", "IN", scannable)], ignored=False),
            "reignored": ids([Criterion("type", "IN", scannable)], ignored=True),
            "unignored": ids([Criterion("type", "IN", scannable)], ignored=True),
            "removed": ids(),
        }

    def _pick(self, pool: list[int], count: int) -> list[int]:
        free = [f for f in pool if f not in self.used]
        chosen = self.rng.sample(free, min(count, len(free)))
        self.used.update(chosen)
        return sorted(chosen)

    def _apply(self, name: str, fid: int) -> None:
        data, when = self.data, self.moment()
        i = data.position_of(fid)
        cols = data.columns
        if name == "retested":
            events.scan_result(data, i, cols.statuses[i], when)
        elif name == "fixed":
            events.scan_result(data, i, STATUSES.index("FIXED"), when)
        elif name == "reopened":
            events.scan_result(data, i, STATUSES.index("REOPENED"), when)
        elif name in ("ignored", "reignored"):
            current = IGNORED_REASONS[cols.ignored[i]]
            reason = self.rng.choice([r for r in IGNORED_REASONS[1:] if r != current])
            events.triage(data, i, reason, when, None)
        else:
            events.triage(data, i, None, when, None)
        self.done[name].append(fid)
        self.at[fid] = when

    def _add(self, vulnerabilities: int, informational: int) -> None:
        """New findings on web apps that have findings, in detection order (so ids rise)."""
        data = self.data
        apps = [data.webapp_position(a) for a in sorted(data.finding_counts_by_webapp())]
        profiles = data.qid_profiles
        pools = {
            kind: sorted(
                q
                for q, p in profiles.items()
                if (FINDING_TYPES.index(p.type) == INFORMATION_GATHERED) == kind
            )
            for kind in (False, True)
        }
        kinds = [False] * vulnerabilities + [True] * informational
        if not apps or not kinds:
            return
        for when, kind in sorted((self.moment(), kind) for kind in kinds):
            profile = profiles[self.rng.choice(pools[kind])]
            new_id = data.columns.ids[-1] + 1
            events.append_finding(data, new_id, self.rng.choice(apps), profile, "NEW", when)
            self.done["added_informational" if kind else "added"].append(new_id)
            self.at[new_id] = when

    def result(self) -> DayChanges:
        done = {name: tuple(sorted(ids)) for name, ids in self.done.items()}
        return DayChanges(when=self.end, at=dict(self.at), **done)
