"""Real-world events as one call each, with every field Qualys would change (and no other)."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import httpx
import pytest

from connector.simulator import NOW, Dataset, FindingRecord

from .helpers import FINDING_SEARCH, WEBAPP_SEARCH, page_through

WHEN = NOW + timedelta(days=1, hours=2)
SCAN_LENGTH = timedelta(minutes=20)


def first(dataset: Dataset, **wanted: object) -> FindingRecord:
    return next(
        f
        for f in dataset.findings()
        if all(getattr(f, k) == v for k, v in wanted.items()) and f.history
    )


def same_except(before: FindingRecord, after: FindingRecord, *changed: str) -> None:
    """Every field but `changed` is as it was."""
    for field in dataclasses.fields(FindingRecord):
        if field.name not in changed:
            assert getattr(after, field.name) == getattr(before, field.name), field.name


def test_retest_without_change_of_an_open_finding(dataset: Dataset) -> None:
    """A retest detects an open finding again: last detected/tested and updatedDate at the
    scan, timesDetected + 1, history gains the scan; the status stays."""
    before = first(dataset, status="ACTIVE", is_ignored=False)
    after = dataset.retest_finding(before.id, WHEN)
    same_except(
        before,
        after,
        "last_detected",
        "last_tested",
        "updated_date",
        "times_detected",
        "history",
    )
    assert (after.status, after.last_detected, after.last_tested) == ("ACTIVE", WHEN, WHEN)
    assert after.updated_date == WHEN
    assert after.times_detected == (before.times_detected or 0) + 1
    assert after.history[:-1] == before.history
    assert after.history[-1].launched == WHEN - SCAN_LENGTH
    assert after.history[-1].scan_id not in {h.scan_id for h in before.history}


def test_retest_of_a_fixed_finding_keeps_it_fixed(dataset: Dataset) -> None:
    """A retest that still does not find a fixed finding moves only lastTestedDate,
    updatedDate and history; fixedDate, lastDetectedDate and timesDetected stay."""
    before = first(dataset, status="FIXED")
    after = dataset.retest_finding(before.id, WHEN)
    same_except(before, after, "last_tested", "updated_date", "history")
    assert after.fixed_date == before.fixed_date
    assert len(after.history) == len(before.history) + 1


def test_retest_of_an_information_gathered_finding(dataset: Dataset) -> None:
    """An information gathered finding is detected again without status or timesDetected."""
    before = first(dataset, type="INFORMATION_GATHERED")
    after = dataset.retest_finding(before.id, WHEN)
    same_except(before, after, "last_detected", "last_tested", "updated_date", "history")
    assert (after.status, after.times_detected, after.is_ignored) == (None, None, None)


def test_fixed_by_a_rescan(dataset: Dataset) -> None:
    """fix_finding: FIXED with fixedDate and lastTestedDate at the scan; lastDetectedDate and
    timesDetected stay."""
    before = first(dataset, status="REOPENED")
    after = dataset.fix_finding(before.id, WHEN)
    same_except(before, after, "status", "fixed_date", "last_tested", "updated_date", "history")
    assert (after.status, after.fixed_date, after.last_tested) == ("FIXED", WHEN, WHEN)
    assert after.last_detected == before.last_detected < WHEN


def test_reopened_by_a_rescan(dataset: Dataset) -> None:
    """reopen_finding: FIXED -> REOPENED, fixedDate gone, detected again (timesDetected + 1)."""
    before = first(dataset, status="FIXED")
    after = dataset.reopen_finding(before.id, WHEN)
    same_except(
        before,
        after,
        "status",
        "fixed_date",
        "last_detected",
        "last_tested",
        "updated_date",
        "times_detected",
        "history",
    )
    assert (after.status, after.fixed_date, after.last_detected) == ("REOPENED", None, WHEN)
    assert after.times_detected == (before.times_detected or 0) + 1


@pytest.mark.parametrize("reason", ["RISK_ACCEPTED", "FALSE_POSITIVE", "NOT_APPLICABLE"])
def test_triage_in_the_ui_without_a_rescan(dataset: Dataset, reason: str) -> None:
    """Ignoring sets isIgnored, the reason, ignoredDate and a comment, and updatedDate; no scan
    field (lastTestedDate, history, status) moves."""
    before = first(dataset, status="ACTIVE", is_ignored=False)
    after = dataset.set_finding_ignored(before.id, reason, WHEN, comment="Triaged")
    same_except(
        before,
        after,
        "is_ignored",
        "ignored_reason",
        "ignored_date",
        "ignored_comment",
        "updated_date",
    )
    assert (after.is_ignored, after.ignored_reason) == (True, reason)
    assert (after.ignored_date, after.ignored_comment, after.updated_date) == (
        WHEN,
        "Triaged",
        WHEN,
    )


def test_changing_the_reason_and_un_ignoring(dataset: Dataset) -> None:
    """A new reason on an ignored finding moves ignoredDate; un-ignoring drops reason, date and
    comment, leaving only isIgnored=false and updatedDate to tell."""
    fid = first(dataset, status="ACTIVE", is_ignored=False).id
    dataset.set_finding_ignored(fid, "FALSE_POSITIVE", WHEN)
    later = WHEN + timedelta(hours=1)
    changed = dataset.set_finding_ignored(fid, "NOT_APPLICABLE", later)
    assert (changed.ignored_reason, changed.ignored_date) == ("NOT_APPLICABLE", later)
    assert changed.ignored_comment  # the generated comment
    end = later + timedelta(hours=1)
    cleared = dataset.set_finding_ignored(fid, None, end)
    assert (cleared.is_ignored, cleared.ignored_reason) == (False, None)
    assert (cleared.ignored_date, cleared.ignored_comment, cleared.updated_date) == (
        None,
        None,
        end,
    )


def test_un_ignored_finding_renders_without_ignore_elements(
    client: httpx.Client, dataset: Dataset
) -> None:
    """A verbose page shows no ignoredReason, ignoredDate or ignoredComment after un-ignoring."""
    fid = first(dataset, status="ACTIVE", is_ignored=False).id
    dataset.set_finding_ignored(fid, "RISK_ACCEPTED", WHEN)
    dataset.set_finding_ignored(fid, None, WHEN + timedelta(minutes=5))
    records, _ = page_through(client, FINDING_SEARCH, ("id", "EQUALS", str(fid)))
    assert records[0]["isIgnored"] == "false"
    assert not {"ignoredReason", "ignoredDate", "ignoredComment", "ignoredBy"} & set(records[0])


def test_information_gathered_finding_appearing(dataset: Dataset) -> None:
    """add_finding of type INFORMATION_GATHERED: no status, timesDetected or isIgnored, every
    date at the scan, one history entry, an id above all others."""
    app = dataset.webapps()[0]
    top = max(dataset.finding_ids())
    added = dataset.add_finding(app.id, when=WHEN, finding_type="INFORMATION_GATHERED")
    assert added.id > top
    assert (added.type, added.status, added.times_detected, added.is_ignored) == (
        "INFORMATION_GATHERED",
        None,
        None,
        None,
    )
    assert added.first_detected == added.last_detected == added.last_tested == WHEN
    assert [h.launched for h in added.history] == [WHEN - SCAN_LENGTH]


def test_events_leave_generated_fields_alone(dataset: Dataset) -> None:
    """uniqueId, url, payload, CVSS and history before the event survive any sequence of events."""
    before = first(dataset, status="ACTIVE", is_ignored=False)
    dataset.set_finding_ignored(before.id, "RISK_ACCEPTED", WHEN)
    dataset.fix_finding(before.id, WHEN + timedelta(hours=1))
    dataset.reopen_finding(before.id, WHEN + timedelta(hours=2))
    after = dataset.set_finding_ignored(before.id, None, WHEN + timedelta(hours=3))
    for name in ("unique_id", "url", "param", "payload", "cvss", "first_detected", "qid"):
        assert getattr(after, name) == getattr(before, name)
    assert after.history[: len(before.history)] == before.history
    assert len(after.history) == len(before.history) + 2
    assert after.times_detected == (before.times_detected or 0) + 1


def test_whole_rescan_of_a_web_app(client: httpx.Client, dataset: Dataset) -> None:
    """rescan_webapp tests every finding of the web app with one scan at one time: chosen ones
    fixed or reopened, the others retested; the web app's lastScan is that scan."""
    app = dataset.webapps()[1]
    mine = [f for f in dataset.findings() if f.webapp_id == app.id]
    to_fix = [f.id for f in mine if f.status == "ACTIVE"][:2]
    to_reopen = [f.id for f in mine if f.status == "FIXED"][:1]
    result = dataset.rescan_webapp(app.id, WHEN, fixed=to_fix, reopened=to_reopen)
    assert (list(result.fixed), list(result.reopened)) == (sorted(to_fix), to_reopen)
    assert sorted([*result.retested, *result.fixed, *result.reopened]) == [f.id for f in mine]
    others = [f for f in dataset.findings() if f.webapp_id != app.id]
    assert all(f.last_tested < WHEN for f in others)
    for f in mine:
        now = dataset.finding(f.id)
        assert now is not None
        assert now.last_tested == WHEN
        assert now.history[-1] == result.scan
    assert {dataset.finding(i).status for i in to_fix} == {"FIXED"}  # type: ignore[union-attr]
    assert dataset.finding(to_reopen[0]).status == "REOPENED"  # type: ignore[union-attr]
    records, _ = page_through(client, WEBAPP_SEARCH, ("id", "EQUALS", str(app.id)))
    assert records[0]["lastScan"]["id"] == str(result.scan.scan_id)
    assert records[0]["lastScan"]["date"] == WHEN.strftime("%Y-%m-%dT%H:%M:%SZ")


def test_rescan_refuses_wrong_choices_and_changes_nothing(dataset: Dataset) -> None:
    """Fixing a finding of another web app, or reopening an open one, is refused up front."""
    apps = dataset.webapps()
    theirs = next(f.id for f in dataset.findings() if f.webapp_id == apps[2].id)
    open_one = next(
        f.id for f in dataset.findings() if f.webapp_id == apps[1].id and f.status == "ACTIVE"
    )
    before = list(dataset.findings())
    with pytest.raises(ValueError, match="not listed findings of web app"):
        dataset.rescan_webapp(apps[1].id, WHEN, fixed=[theirs])
    with pytest.raises(ValueError, match="only FIXED/PROTECTED"):
        dataset.rescan_webapp(apps[1].id, WHEN, reopened=[open_one])
    assert list(dataset.findings()) == before


def test_events_refuse_impossible_transitions(dataset: Dataset) -> None:
    """Fixing a fixed finding, reopening an open one, ignoring an informational one: errors."""
    fixed = first(dataset, status="FIXED").id
    active = first(dataset, status="ACTIVE").id
    info = first(dataset, type="INFORMATION_GATHERED").id
    with pytest.raises(ValueError, match="can be fixed"):
        dataset.fix_finding(fixed, WHEN)
    with pytest.raises(ValueError, match="can be reopened"):
        dataset.reopen_finding(active, WHEN)
    with pytest.raises(ValueError, match="cannot be ignored"):
        dataset.set_finding_ignored(info, "RISK_ACCEPTED", WHEN)
    with pytest.raises(KeyError):
        dataset.retest_finding(1, WHEN)
