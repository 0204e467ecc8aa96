"""The daemon's Prometheus metrics, in a registry of their own (never the global one)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from importlib import metadata
from typing import Protocol

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Info,
    ProcessCollector,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.exposition import CONTENT_TYPE_LATEST

PREFIX = "qualys_was"
CONTENT_TYPE = CONTENT_TYPE_LATEST
DISTRIBUTION = "qualys-was-connector"

# `*_created` series (one per counter, the time it was created) only double what scrapers store;
# the switch is process-wide in prometheus_client.
disable_created_metrics()  # type: ignore[no-untyped-call]  # untyped in prometheus_client


def connector_version() -> str:
    try:
        return metadata.version(DISTRIBUTION)
    except metadata.PackageNotFoundError:  # running from a source tree that was never installed
        return "unknown"


class ClientStats(Protocol):
    """What the Qualys client counts during one sync (`client.stats`)."""

    @property
    def api_calls(self) -> int: ...

    @property
    def retries(self) -> int: ...

    @property
    def errors_by_kind(self) -> Mapping[str, int]: ...


class ServiceMetrics:
    """Every metric `/metrics` exposes, and the few ways the daemon updates them."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        r = self.registry
        self.sync_runs = Counter(
            f"{PREFIX}_sync_runs", "Syncs run by this process, by outcome", ["outcome"], registry=r
        )
        self.last_success = Gauge(
            f"{PREFIX}_last_success_timestamp_seconds",
            "Unix time the last successful sync finished (from the store at start)",
            registry=r,
        )
        self.last_duration = Gauge(
            f"{PREFIX}_last_sync_duration_seconds", "How long the last sync took", registry=r
        )
        self.running = Gauge(f"{PREFIX}_sync_running", "1 while a sync is running", registry=r)
        self.findings = Gauge(
            f"{PREFIX}_findings",
            "Findings in the store by status and severity (archived assets left out)",
            ["status", "severity"],
            registry=r,
        )
        self.assets = Gauge(
            f"{PREFIX}_assets", "Assets in the store by state", ["state"], registry=r
        )
        self.api_calls = Counter(
            f"{PREFIX}_api_calls", "Qualys API calls made by this process", registry=r
        )
        self.retries = Counter(
            f"{PREFIX}_api_retries", "Qualys API calls retried by this process", registry=r
        )
        self.errors = Counter(
            f"{PREFIX}_api_errors", "Qualys API errors by kind", ["kind"], registry=r
        )
        self.validation_mismatches = Gauge(
            f"{PREFIX}_validation_mismatches",
            "Mismatches found by the last validation (Qualys against the store)",
            registry=r,
        )
        self.last_failed = Gauge(
            f"{PREFIX}_last_sync_failed",
            "1 when the last sync failed (from the store at start), else 0",
            registry=r,
        )
        Info(f"{PREFIX}_build", "The connector's version", registry=r).info(
            {"version": connector_version()}
        )
        ProcessCollector(registry=r)  # process_cpu_seconds_total, process_resident_memory_bytes...
        for outcome in ("succeeded", "failed", "interrupted", "skipped"):
            self.sync_runs.labels(outcome=outcome)  # present at 0 before the first sync

    def record_run(self, outcome: str, duration_seconds: float, *, finished_at: datetime) -> None:
        """Count one finished sync; a success also moves the last-success timestamp."""
        self.sync_runs.labels(outcome=outcome).inc()
        self.last_duration.set(duration_seconds)
        self.set_last_outcome(outcome)
        if outcome == "succeeded":
            self.last_success.set(finished_at.timestamp())

    def set_last_outcome(self, outcome: str | None) -> None:
        """The last sync's outcome; a skipped run (another process syncing) changes nothing."""
        if outcome is not None and outcome != "skipped":
            self.last_failed.set(1 if outcome == "failed" else 0)

    def set_last_success(self, at: datetime | None) -> None:
        if at is not None:
            self.last_success.set(at.timestamp())

    def add_client_stats(self, stats: ClientStats) -> None:
        """Add one sync's client counters (a fresh client per sync) to the process totals."""
        self.api_calls.inc(stats.api_calls)
        self.retries.inc(stats.retries)
        for kind, count in stats.errors_by_kind.items():
            self.errors.labels(kind=kind).inc(count)

    def set_store_counts(
        self, findings: Mapping[tuple[str, str], int], assets: Mapping[str, int]
    ) -> None:
        """Replace the store gauges with fresh counts (labels that disappeared are dropped)."""
        self.findings.clear()
        for (status, severity), count in findings.items():
            self.findings.labels(status=status, severity=severity).set(count)
        self.assets.clear()
        for state, count in assets.items():
            self.assets.labels(state=state).set(count)

    def render(self) -> bytes:
        """The registry in Prometheus text exposition format."""
        return generate_latest(self.registry)
