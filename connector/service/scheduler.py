"""When syncs run: the cron trigger built from `[schedule]`, catch-up, and the long-running Daemon.

The schedule functions are pure (`next_runs`, `schedule_period`, `needs_catch_up`) and take the
time as an argument. The Daemon runs an injected `run_once` on an APScheduler 3 scheduler: one sync
at a time, missed runs coalesced, a failed sync logged and counted and, when the failure looks
transient, retried once after a short backoff. Nothing a sync raises stops the daemon.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger

from connector.config import WEEKDAYS, ScheduleSettings
from connector.errors import (
    ConnectorError,
    SyncAlreadyRunningError,
    SyncInterruptedError,
    is_transient,
)
from connector.logsetup import log_context
from connector.models import RunOutcome
from connector.service.metrics import ServiceMetrics

log = logging.getLogger(__name__)

JOB_ID = "sync"
MISFIRE_GRACE_SECONDS = 3600
SKIPPED = "skipped"  # the outcome label when another process holds the sync lock


class ScheduleTrigger(CronTrigger):  # type: ignore[misc]  # apscheduler 3 ships no type hints
    """A CronTrigger that fires once per scheduled wall-clock time, whatever DST does.

    On the autumn day a wall-clock time happens twice, only its first occurrence fires; on the
    spring day it does not exist, it fires at the same instant a plain CronTrigger picks (the
    time read with the pre-transition offset, i.e. one hour later on the clock). Fire times are
    returned with their true UTC offset.
    """

    def get_next_fire_time(
        self, previous_fire_time: datetime | None, now: datetime
    ) -> datetime | None:
        while True:
            fire: datetime | None = super().get_next_fire_time(previous_fire_time, now)
            if fire is None:
                return None
            fire = datetime.fromtimestamp(fire.timestamp(), fire.tzinfo)  # the real offset
            if not _second_occurrence(fire):
                return fire
            previous_fire_time = now = fire


def _second_occurrence(moment: datetime) -> bool:
    return moment.fold == 1 and moment.replace(fold=0).utcoffset() != moment.utcoffset()


def build_trigger(schedule: ScheduleSettings) -> ScheduleTrigger:
    """The cron trigger for `[schedule]`: time of day, days of the week, time zone."""
    return ScheduleTrigger(
        hour=schedule.hour,
        minute=schedule.minute,
        second=0,
        day_of_week=",".join(schedule.days),
        timezone=ZoneInfo(schedule.timezone),
    )


def next_runs(schedule: ScheduleSettings, after: datetime, n: int) -> list[datetime]:
    """The next `n` scheduled sync times strictly after `after` (aware), in the schedule's zone."""
    if after.tzinfo is None:
        raise ValueError("next_runs needs a timezone-aware datetime")
    trigger = build_trigger(schedule)
    runs: list[datetime] = []
    previous: datetime | None = None
    now = after + timedelta(microseconds=1)
    while len(runs) < n:
        fire = trigger.get_next_fire_time(previous, now)
        if fire is None:  # pragma: no cover - a cron trigger without end date never ends
            break
        runs.append(fire)
        previous = now = fire
    return runs


def schedule_period(schedule: ScheduleSettings) -> timedelta:
    """The longest gap between two consecutive scheduled runs (whole days, DST ignored)."""
    days = sorted({WEEKDAYS.index(day) for day in schedule.days})
    gaps = [(days[(i + 1) % len(days)] - day) % 7 or 7 for i, day in enumerate(days)]
    return timedelta(days=max(gaps))


def needs_catch_up(
    last_success: datetime | None, now: datetime, schedule: ScheduleSettings
) -> bool:
    """Whether to sync at start: never synced, or the last success is older than the period."""
    if last_success is None:
        return True
    return now - last_success > schedule_period(schedule)


class RunReport(Protocol):
    """What `run_once` returns (the sync's SyncReport fits)."""

    @property
    def outcome(self) -> Any: ...


RunOnce = Callable[[], RunReport | None]


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class DaemonState:
    """What the daemon knows about its syncs; read by /readyz."""

    running: bool = False
    last_outcome: str | None = None  # a RunOutcome value or "skipped"
    last_error: str | None = None
    last_started_at: datetime | None = None
    last_finished_at: datetime | None = None
    last_success_at: datetime | None = None


class Daemon:
    """Runs `run_once` on the schedule until stopped. `stop` is what the sync honours."""

    def __init__(
        self,
        schedule: ScheduleSettings,
        run_once: RunOnce,
        *,
        metrics: ServiceMetrics | None = None,
        clock: Callable[[], datetime] = _utcnow,
        last_success: datetime | None = None,
        last_outcome: str | None = None,
        retry_backoff: float = 60.0,
        stop: threading.Event | None = None,
        connector: str | None = None,
    ) -> None:
        self.schedule = schedule
        self.connector = connector  # attached to every log line of a job
        self.run_once = run_once
        self.metrics = metrics if metrics is not None else ServiceMetrics()
        self.clock = clock
        self.retry_backoff = retry_backoff
        self.stop = stop if stop is not None else threading.Event()
        self.state = DaemonState(last_success_at=last_success, last_outcome=last_outcome)
        self.metrics.set_last_success(last_success)
        self.metrics.set_last_outcome(last_outcome)
        self._state_lock = threading.Lock()
        self._idle = threading.Event()
        self._idle.set()
        self._busy = threading.Lock()
        self._scheduler = BackgroundScheduler(
            timezone=UTC,
            job_defaults={
                "max_instances": 1,
                "coalesce": True,
                "misfire_grace_time": MISFIRE_GRACE_SECONDS,
            },
            executors={"default": {"type": "threadpool", "max_workers": 1}},
        )

    # --- lifecycle ---------------------------------------------------------------------------

    def start(self, *, run_now: bool = False) -> None:
        """Start scheduling; sync at once when asked to (`--now`) or when a run was missed."""
        catch_up = needs_catch_up(self.state.last_success_at, self.clock(), self.schedule)
        options: dict[str, Any] = {}
        if run_now or catch_up:
            options["next_run_time"] = datetime.now(UTC)
            if run_now:
                log.info("syncing now (--now)")
            elif self.state.last_success_at is None:
                log.info("no successful sync recorded yet: syncing now")
            else:
                log.info(
                    "last successful sync %s is older than the schedule period %s: catching up now",
                    self.state.last_success_at.isoformat(timespec="seconds"),
                    schedule_period(self.schedule),
                )
        self._scheduler.add_job(
            self.run_job,
            build_trigger(self.schedule),
            id=JOB_ID,
            name="sync",
            max_instances=1,
            coalesce=True,
            misfire_grace_time=MISFIRE_GRACE_SECONDS,
            **options,
        )
        self._scheduler.start()
        log.info(
            "scheduler started: syncs at %s on %s (%s); next at %s",
            self.schedule.time,
            ",".join(self.schedule.days),
            self.schedule.timezone,
            self.next_run_time(),
        )

    def next_run_time(self) -> str:
        job = self._scheduler.get_job(JOB_ID)
        when: datetime | None = job.next_run_time if job is not None else None
        return when.isoformat(timespec="seconds") if when is not None else "never"

    def request_stop(self) -> None:
        """Take no new work and ask a running sync to end after its current page."""
        if not self.stop.is_set():
            log.info("stop requested: no new syncs; a running sync ends after its current page")
        self.stop.set()
        if self._scheduler.running:
            self._scheduler.pause()

    def shutdown(self, grace: float) -> bool:
        """Stop, wait up to `grace` seconds for a running sync; True when it ended in time."""
        self.request_stop()
        if self._scheduler.running:
            self._scheduler.shutdown(wait=False)
        return self._idle.wait(grace)

    def wait_idle(self, timeout: float) -> bool:
        return self._idle.wait(timeout)

    # --- one scheduled execution -------------------------------------------------------------

    def run_job(self) -> None:
        """One scheduled sync: run it, and once more after a backoff if it failed transiently."""
        with log_context(connector=self.connector):
            self._run_job()

    def _run_job(self) -> None:
        if self.stop.is_set():
            return
        if not self._busy.acquire(blocking=False):
            log.warning("a sync is still running in this process: skipping this run")
            return
        self._idle.clear()
        try:
            failure = self._attempt()
            if failure is not None and is_transient(failure) and not self.stop.is_set():
                log.warning("sync failed transiently; retrying once in %.0fs", self.retry_backoff)
                if not self.stop.wait(self.retry_backoff):
                    self._attempt()
        finally:
            self._busy.release()
            self._idle.set()

    def _attempt(self) -> BaseException | None:
        """Run the sync once; record the outcome; return the failure (None on success)."""
        started = time.monotonic()
        with self._state_lock:
            self.state.running = True
            self.state.last_started_at = self.clock()
        self.metrics.running.set(1)
        failure: BaseException | None = None
        error: str | None = None
        try:
            report = self.run_once()
            outcome = str(report.outcome) if report is not None else RunOutcome.SUCCEEDED.value
        except SyncInterruptedError as exc:
            outcome, error = RunOutcome.INTERRUPTED.value, str(exc)
            log.info("sync interrupted: %s", exc)
        except SyncAlreadyRunningError as exc:
            outcome, error = SKIPPED, str(exc)
            log.warning("sync skipped: %s", exc)
        except ConnectorError as exc:
            outcome, error, failure = RunOutcome.FAILED.value, str(exc), exc
            log.error("sync failed: %s", exc)  # noqa: TRY400 - the one-line message is the point
        except Exception as exc:  # a bug in one sync must not kill the daemon: logged, counted
            outcome, error, failure = RunOutcome.FAILED.value, f"unexpected error: {exc!r}", exc
            log.exception("sync failed with an unexpected error")
        duration = time.monotonic() - started
        finished = self.clock()
        with self._state_lock:
            self.state.running = False
            self.state.last_finished_at = finished
            if outcome != SKIPPED:
                self.state.last_outcome = outcome
                self.state.last_error = error
            if outcome == RunOutcome.SUCCEEDED.value:
                self.state.last_success_at = finished
        self.metrics.running.set(0)
        self.metrics.record_run(outcome, duration, finished_at=finished)
        log.info(
            "sync %s in %.1fs; next at %s",
            outcome,
            duration,
            self.next_run_time() if self._scheduler.running else "never (stopping)",
            extra={"outcome": outcome, "duration_seconds": round(duration, 3)},
        )
        return failure
