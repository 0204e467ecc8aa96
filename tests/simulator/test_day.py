"""simulate_day: a realistic day of changes, reported by kind, each applied faithfully."""

from __future__ import annotations

from datetime import timedelta

import pytest

from connector.simulator import NOW, Dataset, DayChanges

DAY = NOW + timedelta(days=1)


@pytest.fixture
def tenant() -> Dataset:
    """40 web apps and 2,000 findings: some web apps are small enough to be rescanned whole."""
    return Dataset.generate(webapps=40, findings=2000, seed=3, qid_pool=60)


def kinds(changes: DayChanges) -> dict[str, tuple[int, ...]]:
    names = ("retested", "fixed", "reopened", "ignored", "reignored", "unignored", "added")
    return {n: getattr(changes, n) for n in (*names, "added_informational", "removed")}


def test_a_day_touches_about_the_share_once_each(tenant: Dataset) -> None:
    """About `share` of the findings change, every kind occurs, no finding changes twice."""
    before = tenant.finding_count()
    changes = tenant.simulate_day(7, DAY, share=0.05, removed_webapps=1)
    per_kind = kinds(changes)
    assert all(per_kind.values()), {k: len(v) for k, v in per_kind.items()}
    assert changes.rescanned_webapps and changes.removed_webapps
    everything = [i for ids in per_kind.values() for i in ids] + list(changes.removed_with_webapps)
    assert len(everything) == len(set(everything))
    single = sum(len(v) for k, v in per_kind.items())
    assert 0.03 * before <= single <= 0.08 * before + len(changes.removed_with_webapps)
    assert tenant.now == DAY


def test_each_kind_is_what_its_name_says(tenant: Dataset) -> None:
    """Fixed ones are FIXED, reopened REOPENED, ignored and re-ignored carry a reason,
    un-ignored none, added ones are new, removed ones and a removed web app's are gone; each
    changed finding's dates say when."""
    before = {f.id: f for f in tenant.findings()}
    changes = tenant.simulate_day(11, DAY, share=0.08, removed_webapps=1)
    now = {f.id: f for f in tenant.findings()}
    start = DAY - timedelta(days=1)
    for fid in changes.fixed:
        assert (now[fid].status, now[fid].fixed_date) == ("FIXED", changes.at[fid])
    for fid in changes.reopened:
        assert (before[fid].status, now[fid].status) == ("FIXED", "REOPENED")
    for fid in changes.retested:
        assert now[fid].status == before[fid].status
        assert now[fid].last_tested == changes.at[fid] > before[fid].last_tested
    for fid in changes.ignored:
        assert not before[fid].is_ignored
        assert now[fid].is_ignored
    for fid in changes.reignored:
        assert now[fid].ignored_reason not in (None, before[fid].ignored_reason)
        assert now[fid].last_tested == before[fid].last_tested
    for fid in changes.unignored:
        assert (before[fid].is_ignored, now[fid].is_ignored) == (True, False)
    for fid in changes.added:
        assert fid not in before
        assert now[fid].status == "NEW"
        assert now[fid].type != "INFORMATION_GATHERED"
    for fid in changes.added_informational:
        assert now[fid].type == "INFORMATION_GATHERED"
    assert changes.gone <= before.keys()
    assert not changes.gone & now.keys()
    assert {tenant.webapp(w) for w in changes.removed_webapps} == {None}
    for fid in changes.changed:
        assert start < now[fid].updated_date == changes.at[fid] <= DAY
    untouched = before.keys() - changes.changed - changes.gone
    assert all(now[fid] == before[fid] for fid in untouched)


def test_added_findings_get_rising_ids_in_time_order(tenant: Dataset) -> None:
    """New findings have ids above every earlier one, in the order they were detected."""
    top = max(tenant.finding_ids())
    changes = tenant.simulate_day(2, DAY, share=0.1)
    added = sorted((*changes.added, *changes.added_informational))
    assert added[0] > top
    times = [changes.at[fid] for fid in added]
    assert times == sorted(times)


def test_the_same_seed_gives_the_same_day() -> None:
    """Two identical tenants given the same day end identical; another seed differs."""
    days = []
    for seed in (5, 5, 6):
        data = Dataset.generate(webapps=40, findings=2000, seed=3, qid_pool=60)
        changes = data.simulate_day(seed, DAY)
        days.append((changes, list(data.findings())))
    assert days[0] == days[1]
    assert days[0][0] != days[2][0]


def test_a_week_of_days(tenant: Dataset) -> None:
    """Seven days in a row each move the clock a day and keep changing the tenant."""
    for day in range(1, 8):
        changes = tenant.simulate_day(day, NOW + timedelta(days=day))
        assert changes.changed
        assert tenant.now == NOW + timedelta(days=day)
    assert all(f.last_tested <= tenant.now for f in tenant.findings())


def test_a_day_must_end_after_the_clock(tenant: Dataset) -> None:
    """A day ending at or before the data set's clock is refused; share must be 0..1."""
    with pytest.raises(ValueError, match="after the data set's clock"):
        tenant.simulate_day(1, NOW)
    with pytest.raises(ValueError, match="share"):
        tenant.simulate_day(1, DAY, share=1.5)


def test_a_short_day_spreads_events_after_the_clock(tenant: Dataset) -> None:
    """A day ending an hour after the clock puts every event within that hour."""
    end = NOW + timedelta(hours=1)
    changes = tenant.simulate_day(3, end, share=0.02)
    assert changes.at
    assert all(NOW < when <= end for when in changes.at.values())


def test_as_dict_is_json_ready(tenant: Dataset) -> None:
    """as_dict lists each kind's ids and the totals."""
    changes = tenant.simulate_day(4, DAY)
    payload = changes.as_dict()
    assert payload["fixed"] == list(changes.fixed)
    assert (payload["changed"], payload["gone"]) == (len(changes.changed), len(changes.gone))
