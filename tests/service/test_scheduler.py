"""The schedule: next run times, day filters, time zones and DST, the period and catch-up."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from connector.config import ScheduleSettings
from connector.errors import (
    ListingIncompleteError,
    QualysAuthError,
    QualysUnreachableError,
    SchemaMismatchError,
    StoreError,
    StoreWriteError,
    is_transient,
)
from connector.service.scheduler import (
    build_trigger,
    needs_catch_up,
    next_runs,
    schedule_period,
)

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")


def test_daily_runs_fall_on_consecutive_days_at_the_configured_time() -> None:
    """Every day of the week selected: one run per day at HH:MM in the schedule's zone."""
    schedule = ScheduleSettings(hour=2, minute=0)
    runs = next_runs(schedule, datetime(2025, 1, 30, 12, 0, tzinfo=UTC), 4)
    assert runs == [datetime(2025, 1, day, 2, 0, tzinfo=UTC) for day in (31,)] + [
        datetime(2025, 2, day, 2, 0, tzinfo=UTC) for day in (1, 2, 3)
    ]


def test_next_runs_is_strictly_after_the_given_time() -> None:
    """A run exactly at `after` is not returned again (the scheduler just fired it)."""
    schedule = ScheduleSettings(hour=2, minute=0)
    runs = next_runs(schedule, datetime(2025, 1, 30, 2, 0, tzinfo=UTC), 1)
    assert runs == [datetime(2025, 1, 31, 2, 0, tzinfo=UTC)]


def test_day_filter_skips_unselected_days_across_weeks() -> None:
    """days = mon, wed, fri: runs land only on those weekdays, wrapping into the next week."""
    schedule = ScheduleSettings(hour=6, minute=15, days=("mon", "wed", "fri"))
    runs = next_runs(schedule, datetime(2025, 3, 1, 0, 0, tzinfo=UTC), 5)  # a Saturday
    assert [r.strftime("%a %d") for r in runs] == ["Mon 03", "Wed 05", "Fri 07", "Mon 10", "Wed 12"]
    assert all((r.hour, r.minute) == (6, 15) for r in runs)


def test_time_is_read_in_the_schedule_time_zone() -> None:
    """02:00 in America/New_York is 07:00 UTC in winter."""
    schedule = ScheduleSettings(hour=2, minute=0, timezone="America/New_York")
    (run,) = next_runs(schedule, datetime(2025, 1, 15, 12, 0, tzinfo=UTC), 1)
    assert run.astimezone(UTC) == datetime(2025, 1, 16, 7, 0, tzinfo=UTC)
    assert run.tzinfo == NEW_YORK


def test_spring_forward_runs_once_on_the_missing_wall_time() -> None:
    """Europe/Berlin 02:30 does not exist on 2025-03-30: that day's run happens once, at 03:30 CEST."""
    schedule = ScheduleSettings(hour=2, minute=30, timezone="Europe/Berlin")
    runs = next_runs(schedule, datetime(2025, 3, 28, 12, 0, tzinfo=UTC), 4)
    assert [r.astimezone(UTC) for r in runs] == [
        datetime(2025, 3, 29, 1, 30, tzinfo=UTC),  # 02:30 CET
        datetime(2025, 3, 30, 1, 30, tzinfo=UTC),  # the transition day: 03:30 CEST
        datetime(2025, 3, 31, 0, 30, tzinfo=UTC),  # 02:30 CEST
        datetime(2025, 4, 1, 0, 30, tzinfo=UTC),
    ]
    assert runs[1].utcoffset() == timedelta(hours=2)


def test_fall_back_runs_once_on_the_repeated_wall_time() -> None:
    """Europe/Berlin 02:30 happens twice on 2025-10-26: only the first occurrence fires."""
    schedule = ScheduleSettings(hour=2, minute=30, timezone="Europe/Berlin")
    runs = next_runs(schedule, datetime(2025, 10, 24, 12, 0, tzinfo=UTC), 4)
    assert [r.astimezone(UTC) for r in runs] == [
        datetime(2025, 10, 25, 0, 30, tzinfo=UTC),  # 02:30 CEST
        datetime(2025, 10, 26, 0, 30, tzinfo=UTC),  # first 02:30 (CEST), not the CET repeat
        datetime(2025, 10, 27, 1, 30, tzinfo=UTC),  # 02:30 CET
        datetime(2025, 10, 28, 1, 30, tzinfo=UTC),
    ]
    assert all(r.astimezone(BERLIN).strftime("%H:%M") == "02:30" for r in runs)


def test_next_runs_refuses_a_naive_datetime() -> None:
    """A naive time has no meaning across zones: next_runs refuses it."""
    with pytest.raises(ValueError, match="timezone-aware"):
        next_runs(ScheduleSettings(), datetime(2025, 1, 1), 1)


def test_trigger_uses_the_schedule_zone() -> None:
    """The APScheduler trigger carries the configured zone, not the host's."""
    trigger = build_trigger(ScheduleSettings(timezone="Europe/Berlin"))
    assert trigger.timezone == BERLIN


@pytest.mark.parametrize(
    ("days", "period"),
    [
        (("mon", "tue", "wed", "thu", "fri", "sat", "sun"), timedelta(days=1)),
        (("mon", "tue", "wed", "thu", "fri"), timedelta(days=3)),  # fri -> mon
        (("wed",), timedelta(days=7)),
        (("mon", "wed"), timedelta(days=5)),  # wed -> mon
    ],
)
def test_schedule_period_is_the_longest_gap(days: tuple[str, ...], period: timedelta) -> None:
    """The period is the longest gap between consecutive selected weekdays."""
    assert schedule_period(ScheduleSettings(days=days)) == period


def test_catch_up_when_never_synced_or_the_last_success_is_older_than_the_period() -> None:
    """Daily schedule: catch up after 25 h without success, not after 23 h; always when none."""
    schedule = ScheduleSettings(hour=2, minute=0)
    now = datetime(2025, 5, 10, 9, 0, tzinfo=UTC)
    assert needs_catch_up(None, now, schedule)
    assert needs_catch_up(now - timedelta(hours=25), now, schedule)
    assert not needs_catch_up(now - timedelta(hours=23), now, schedule)


def test_catch_up_respects_a_weekly_schedule() -> None:
    """Weekly schedule: a success five days ago is recent enough."""
    schedule = ScheduleSettings(days=("sun",))
    now = datetime(2025, 5, 10, 9, 0, tzinfo=UTC)
    assert not needs_catch_up(now - timedelta(days=5), now, schedule)
    assert needs_catch_up(now - timedelta(days=8), now, schedule)


@pytest.mark.parametrize(
    ("exc", "transient"),
    [
        (QualysUnreachableError("timeout"), True),
        (StoreError("database is locked"), True),
        (SchemaMismatchError("newer schema"), False),
        (StoreWriteError("finding 1: too long"), False),
        (QualysAuthError("bad password"), False),
        (RuntimeError("bug"), False),
        (ListingIncompleteError("Qualys listed 2 of 3 findings"), True),
    ],
)
def test_transient_failures_are_the_retryable_ones(exc: BaseException, transient: bool) -> None:
    """Only an unreachable Qualys or a failing database earn the one quick retry."""
    assert is_transient(exc) is transient
