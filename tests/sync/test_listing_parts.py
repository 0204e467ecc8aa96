"""The pure parts of a listing: where streams split, how a dry stream takes over, the page
budget, the choice of full or incremental, and the counts' addition."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from connector.config import SyncSettings
from connector.models import SyncMode
from connector.qualys.pages import RawPage
from connector.qualys.requests import Criterion
from connector.sync import SeenKeys, SyncCounts
from connector.sync.listing import PageBudget, _BudgetSpentError, _split_points, _Streams
from connector.sync.mode import choose_mode, settings_fingerprint

TYPE = Criterion("type", "IN", "VULNERABILITY")
NOW = datetime(2025, 1, 10, tzinfo=UTC)


def bounds(streams: _Streams) -> list[tuple[int | None, int | None]]:
    return [(p.last_id, p.upper) for p in streams.pagers]


def page(last_id: int | None, more: bool) -> RawPage:
    return RawPage("finding", "/search", more, last_id, 0)


def test_streams_split_at_the_median_of_the_known_ids_and_cover_everything() -> None:
    """Two streams: [start, median) and [median, end of ids); nothing below or above is left out."""
    streams = _Streams([TYPE], SeenKeys(range(100, 200)), 2, page_size=10, budget=PageBudget(10))
    assert bounds(streams) == [(None, 150), (149, None)]
    assert streams.next_criteria(0) == [TYPE, Criterion("id", "LESSER", 150)]
    assert streams.next_criteria(1) == [TYPE, Criterion("id", "GREATER", 149)]


@pytest.mark.parametrize("known", [[], [5]], ids=["none", "one"])
def test_without_enough_known_ids_one_stream_covers_all(known: list[int]) -> None:
    """With fewer known ids than streams there is no split point: one unbounded range."""
    assert _split_points(SeenKeys(known), 2) == []


def test_a_dry_stream_takes_over_half_of_the_busiest_range() -> None:
    """When stream 0 ends, it takes the upper half of stream 1's remaining known ids."""
    budget = PageBudget(10)
    streams = _Streams([TYPE], SeenKeys(range(1000, 1100)), 2, page_size=10, budget=budget)
    streams.advance(0, page(None, more=False))  # stream 0 ran dry
    streams.advance(1, page(1059, more=True))  # stream 1 is at 1059 of [1050, end)
    criteria = streams.next_criteria(0)
    assert criteria == [TYPE, Criterion("id", "GREATER", 1079)]  # median of 1060..1099 is 1080
    assert bounds(streams)[1] == (1059, 1080)


def test_no_take_over_when_little_is_left() -> None:
    """A range with at most two pages of known ids left is not split: the dry stream ends."""
    streams = _Streams([TYPE], SeenKeys(range(100)), 2, page_size=10, budget=PageBudget(10))
    streams.advance(0, page(None, more=False))
    streams.advance(1, page(80, more=True))
    assert streams.next_criteria(0) is None


def test_a_pager_narrowed_below_its_in_flight_page_ends_without_another_request() -> None:
    """A page that comes back past the narrowed bound ends that stream's paging: no request for
    the empty rest of its range."""
    streams = _Streams([TYPE], SeenKeys(range(1000, 1100)), 2, page_size=20, budget=PageBudget(20))
    streams.advance(0, page(None, more=False))
    assert streams.next_criteria(0) == [TYPE, Criterion("id", "GREATER", 1074)]
    upper = streams.pagers[1].upper
    assert upper == 1075
    streams.advance(1, page(upper + 3, more=True))  # its request left before the narrowing
    assert streams.pagers[1].done
    assert streams.next_criteria(1) is None  # and 25 known ids left elsewhere: not worth a split


def test_the_page_budget_follows_the_count() -> None:
    """Unbounded until the count is known; then ceil(count / size) + 2 per range + slack pages."""
    budget = PageBudget(100)
    for _ in range(50):
        budget.spend()
    budget.bound_by(1000, ranges=1)  # 10 pages + 2 + 10 slack = 22, already 50 spent
    with pytest.raises(_BudgetSpentError):
        budget.spend()
    fresh = PageBudget(100)
    fresh.bound_by(1000, ranges=2)
    for _ in range(24):
        fresh.spend()
    with pytest.raises(_BudgetSpentError):
        fresh.spend()


def test_full_or_incremental_and_why() -> None:
    """Incremental only after a full sync within full_sync_every_days with the same settings."""
    settings = SyncSettings(full_sync_every_days=7)
    fingerprint = settings_fingerprint(settings)

    def mode(**kwargs: object) -> SyncMode:
        values: dict[str, object] = {
            "force_full": False,
            "last_full": NOW - timedelta(days=1),
            "fingerprint_then": fingerprint,
            "now": NOW,
        }
        values.update(kwargs)
        return choose_mode(settings, **values).mode  # type: ignore[arg-type]

    assert mode() is SyncMode.INCREMENTAL
    assert mode(force_full=True) is SyncMode.FULL
    assert mode(last_full=None) is SyncMode.FULL
    assert mode(last_full=NOW - timedelta(days=7)) is SyncMode.FULL
    assert mode(fingerprint_then="other") is SyncMode.FULL
    always = SyncSettings(full_sync_every_days=0)
    choice = choose_mode(always, force_full=False, last_full=NOW, fingerprint_then=None, now=NOW)
    assert choice.mode is SyncMode.FULL
    assert "full_sync_every_days = 0" in choice.reason


def test_the_fingerprint_follows_types_and_fallback() -> None:
    """Pulling informational findings or another fallback table changes the fingerprint."""
    base = settings_fingerprint(SyncSettings())
    assert settings_fingerprint(SyncSettings(pull_informational=True)) != base
    assert settings_fingerprint(SyncSettings(asset_retention_days=90)) == base


def test_counts_add_up() -> None:
    """Integers add, skipped reasons add per reason, warnings concatenate."""
    a = SyncCounts(pages=1, skipped={"finding: x": 1}, warnings=("w1",))
    b = SyncCounts(pages=2, skipped={"finding: x": 2, "kb: y": 1}, warnings=("w2",))
    total = a + b
    assert total.pages == 3
    assert dict(total.skipped) == {"finding: x": 3, "kb: y": 1}
    assert total.warnings == ("w1", "w2")
    assert total.as_dict()["skipped"] == {"finding: x": 3, "kb: y": 1}


def test_seen_keys_count_and_median_between_bounds() -> None:
    """count_between and median_between look strictly inside the bounds."""
    seen = SeenKeys([10, 20, 30, 40, 50])
    assert seen.count_between(10, 50) == 3
    assert seen.count_between(None, None) == 5
    assert seen.median_between(10, 50) == 30
    assert seen.median_between(50, None) is None
    assert seen.max() == 50


def test_a_first_listing_splits_by_the_density_of_its_first_page() -> None:
    """No ids known: stream 0 lists alone until its first page shows how dense the ids are;
    the rest of the id space is then split evenly and stream 1 starts at the middle."""
    budget = PageBudget(1000)
    streams = _Streams([TYPE], SeenKeys(), 2, page_size=1000, budget=budget, counted=10_000)
    assert streams.pagers[1].done  # waiting: nothing to list yet
    streams.advance(0, page(1999, more=True))
    streams.learn(list(range(1000, 2000)))  # 1,000 ids, one per id: 9,000 left after 1999
    assert bounds(streams) == [(1999, 6499), (6498, None)]
    assert streams.next_criteria(1) == [TYPE, Criterion("id", "GREATER", 6498)]


def test_a_small_first_listing_is_not_split() -> None:
    """When the first page already holds (nearly) everything, the waiting streams just end."""
    streams = _Streams([TYPE], SeenKeys(), 2, page_size=1000, budget=PageBudget(1000), counted=1200)
    streams.advance(0, page(1999, more=True))
    streams.learn(list(range(1000, 2000)))
    assert streams.next_criteria(1) is None
    assert streams.pagers[0].upper is None
