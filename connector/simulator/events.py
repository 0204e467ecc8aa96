"""What real events do to a finding's fields: the rules behind the `Dataset` mutations.

- retest without change (`retest_finding`): an open or information gathered finding is detected
  again (lastDetectedDate, timesDetected + 1); a fixed one stays undetected. Always:
  lastTestedDate, updatedDate, history + this scan.
- fixed by a rescan (`fix_finding`): status FIXED, fixedDate, lastTestedDate, updatedDate,
  history + this scan; lastDetectedDate and timesDetected stay.
- reopened by a rescan (`reopen_finding`): status REOPENED, no fixedDate, lastDetectedDate,
  lastTestedDate, updatedDate, timesDetected + 1, history + this scan.
- triage in the UI, no scan (`set_finding_ignored`): isIgnored, ignoredReason, ignoredDate,
  ignoredComment, updatedDate; un-ignoring removes ignoredReason, ignoredDate and
  ignoredComment (so only isIgnored and updatedDate tell). lastTestedDate and history stay.
- new finding (`add_finding`): an id above all others, NEW (information gathered: no status),
  first/last detected and last tested at the scan, timesDetected 1, one history entry.
- whole rescan of a web app (`rescan_webapp`): one scan for all its findings, each as above,
  and the web app's lastScan.
- purged (`remove_finding`), web app removed (`remove_webapp`): no longer listed anywhere.

A scan's history entry (WebAppFindingHistory) is launched SCAN_LENGTH before the scan ends, and
the end is the lastTestedDate; updatedDate is the time of the latest change of any kind.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from connector.simulator.columns import encode_date
from connector.simulator.records import (
    FINDING_TYPES,
    FIXED_STATUSES,
    IGNORED_REASONS,
    INFORMATION_GATHERED,
    OPEN_STATUSES,
    STATUSES,
    HistoryScan,
    LastScan,
    QidProfile,
)

if TYPE_CHECKING:
    from connector.simulator.dataset import Dataset

SCAN_LENGTH = timedelta(minutes=20)
_FIXED_CODES = frozenset(STATUSES.index(s) for s in FIXED_STATUSES)


@dataclass(frozen=True)
class Rescan:
    """What one whole-web-app rescan did, by finding id."""

    webapp_id: int
    scan: HistoryScan
    retested: tuple[int, ...]
    """Tested with their status unchanged (open ones detected again, fixed ones still absent)."""
    fixed: tuple[int, ...]
    reopened: tuple[int, ...]


def require_status(data: Dataset, i: int, allowed: Collection[str], verb: str) -> None:
    status = STATUSES[data.columns.statuses[i]]
    if status not in allowed:
        raise ValueError(
            f"finding {data.columns.ids[i]} is {status or 'without status'}: "
            f"only {'/'.join(sorted(allowed))} findings can be {verb}"
        )


def scan_result(
    data: Dataset, i: int, status: int, when: datetime, scan: HistoryScan | None = None
) -> None:
    """A scan ending at `when` found finding `i` with status code `status` (a FIXED or
    PROTECTED code: not detected; any other, or information gathered: detected)."""
    cols = data.columns
    patch = data.touch(i)
    informational = cols.types[i] == INFORMATION_GATHERED
    was_fixed = cols.statuses[i] in _FIXED_CODES
    detected = informational or status not in _FIXED_CODES
    if not informational:
        cols.set_cell("statuses", i, status)
    cols.set_date("last_tested", i, when)
    cols.set_date("updated_date", i, when)
    if detected:
        cols.set_date("last_detected", i, when)
        cols.set_date("fixed_date", i, None)
        if not informational:
            patch["times_detected"] = (patch.get("times_detected") or 0) + 1
    elif not was_fixed:
        cols.set_date("fixed_date", i, when)
    patch["history"] = (*patch["history"], scan or data.new_scan(when))


def triage(data: Dataset, i: int, reason: str | None, when: datetime, comment: str | None) -> None:
    """Ignore with `reason`, change the reason, or un-ignore (None), in the UI at `when`."""
    cols = data.columns
    if cols.types[i] == INFORMATION_GATHERED:
        raise ValueError("information gathered findings cannot be ignored")
    patch = data.touch(i)
    cols.set_cell("ignored", i, IGNORED_REASONS.index(reason))
    cols.set_date("ignored_date", i, when if reason else None)
    cols.set_date("updated_date", i, when)
    if comment is not None and reason is not None:
        patch["ignored_comment"] = comment
    else:
        patch.pop("ignored_comment", None)  # un-ignored, or the generated comment


def append_finding(
    data: Dataset, new_id: int, w: int, profile: QidProfile, status: str | None, when: datetime
) -> int:
    """Append a finding a scan at `when` detected for the first time; returns its position."""
    kind = FINDING_TYPES.index(profile.type)
    if kind == INFORMATION_GATHERED:
        status = None
    elif status is None or status not in STATUSES:
        raise ValueError(f"a {profile.type} finding needs a status, got {status!r}")
    cell = encode_date(when)
    fixed = status in FIXED_STATUSES
    dates = {
        "first_detected": cell,
        "last_detected": cell,
        "last_tested": cell,
        "updated_date": cell,
        "fixed_date": cell if fixed else encode_date(None),
    }
    i = data.columns.append(new_id, w, profile.qid, kind, STATUSES.index(status), 0, dates)
    data.touch(i).update(
        times_detected=None if kind == INFORMATION_GATHERED else 1,
        history=(data.new_scan(when),),
    )
    return i


def rescan(
    data: Dataset, webapp_id: int, when: datetime, fixed: set[int], reopened: set[int]
) -> Rescan:
    """Every finding of the web app tested by one scan at `when` (see Dataset.rescan_webapp)."""
    w = data.webapp_position(webapp_id)
    cols = data.columns
    positions = data.positions_of_webapp(webapp_id)
    ids = {cols.ids[i]: i for i in positions}
    strangers = sorted((fixed | reopened) - ids.keys())
    if strangers:
        raise ValueError(f"findings {strangers} are not listed findings of web app {webapp_id}")
    if fixed & reopened:
        raise ValueError(f"findings {sorted(fixed & reopened)} cannot be fixed and reopened")
    for fid in fixed:
        require_status(data, ids[fid], OPEN_STATUSES, "fixed")
    for fid in reopened:
        require_status(data, ids[fid], FIXED_STATUSES, "reopened")
    scan = data.new_scan(when)
    retested: list[int] = []
    for fid, i in ids.items():
        if fid in fixed:
            scan_result(data, i, STATUSES.index("FIXED"), when, scan)
        elif fid in reopened:
            scan_result(data, i, STATUSES.index("REOPENED"), when, scan)
        else:
            scan_result(data, i, cols.statuses[i], when, scan)
            retested.append(fid)
    app = data.webapp_at(w)
    host = app.url.split("//", 1)[-1].split("/", 1)[0].split(".", 1)[0]
    last = LastScan(
        id=scan.scan_id,
        name=f"Web Application Vulnerability Scan - {host} - {when:%Y-%m-%d}",
        date=when,
    )
    data.replace_webapp_at(w, dataclasses.replace(app, last_scan=last))
    return Rescan(webapp_id, scan, tuple(retested), tuple(sorted(fixed)), tuple(sorted(reopened)))
