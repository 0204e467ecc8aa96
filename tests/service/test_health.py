"""The HTTP endpoints: /healthz, /readyz (ready and not, for each reason) and /metrics."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from connector.errors import ConnectorError
from connector.service.health import HealthServer, Readiness, store_readiness
from connector.service.metrics import ServiceMetrics
from connector.service.scheduler import DaemonState
from connector.store.database import create_engine_for


@dataclass
class Reply:
    status: int
    content_type: str
    body: bytes

    def json(self) -> dict[str, object]:
        data = json.loads(self.body)
        assert isinstance(data, dict)
        return data


def get(server: HealthServer, path: str) -> Reply:
    url = f"http://127.0.0.1:{server.port}{path}"
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return Reply(response.status, response.headers["Content-Type"], response.read())
    except urllib.error.HTTPError as exc:
        with exc:
            return Reply(exc.code, exc.headers["Content-Type"], exc.read())


@pytest.fixture
def serve() -> Iterator[Callable[[Readiness], HealthServer]]:
    servers: list[HealthServer] = []

    def start(readiness: Readiness, metrics: ServiceMetrics | None = None) -> HealthServer:
        server = HealthServer(
            "127.0.0.1", 0, metrics=metrics or ServiceMetrics(), readiness=readiness
        )
        server.start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


def test_healthz_answers_200_while_the_process_lives(serve: Callable[..., HealthServer]) -> None:
    """/healthz is 200 even when not ready: liveness is only about the process."""
    server = serve(lambda: "database down")
    reply = get(server, "/healthz")
    assert reply.status == 200
    assert reply.json() == {"status": "ok"}


def test_readyz_is_200_when_ready(serve: Callable[..., HealthServer]) -> None:
    """/readyz is 200 with status ready when the readiness check finds nothing wrong."""
    reply = get(serve(lambda: None), "/readyz")
    assert (reply.status, reply.json()) == (200, {"status": "ready"})


def test_readyz_is_503_with_the_reason_when_not_ready(serve: Callable[..., HealthServer]) -> None:
    """/readyz is 503 with a JSON reason when the check reports a problem."""
    reply = get(serve(lambda: "the last sync failed: timeout"), "/readyz")
    assert reply.status == 503
    assert reply.content_type == "application/json"
    assert reply.json() == {"status": "not ready", "reason": "the last sync failed: timeout"}


def test_readyz_turns_a_raised_error_into_503(serve: Callable[..., HealthServer]) -> None:
    """A readiness check that raises a ConnectorError is reported, not a crashed request."""

    def broken() -> str | None:
        raise ConnectorError("cannot reach the database")

    reply = get(serve(broken), "/readyz")
    assert reply.status == 503
    assert reply.json()["reason"] == "cannot reach the database"


def test_metrics_are_prometheus_text_from_the_dedicated_registry(
    serve: Callable[..., HealthServer],
) -> None:
    """/metrics serves the service's own registry in Prometheus text format."""
    metrics = ServiceMetrics()
    metrics.sync_runs.labels(outcome="failed").inc()
    metrics.set_store_counts({("Active", "High"): 7, ("Fixed", "Low"): 2}, {"active": 3})

    class Stats:
        api_calls = 12
        retries = 2
        errors_by_kind = {"rate_limited": 2}  # noqa: RUF012 - a fake, read only

    metrics.add_client_stats(Stats())
    metrics.validation_mismatches.set(1)
    reply = get(serve(lambda: None, metrics), "/metrics")
    assert reply.status == 200
    assert reply.content_type.startswith("text/plain")
    text = reply.body.decode()
    for line in (
        'qualys_was_sync_runs_total{outcome="failed"} 1.0',
        'qualys_was_sync_runs_total{outcome="succeeded"} 0.0',
        'qualys_was_findings{severity="High",status="Active"} 7.0',
        'qualys_was_assets{state="active"} 3.0',
        "qualys_was_api_calls_total 12.0",
        "qualys_was_api_retries_total 2.0",
        'qualys_was_api_errors_total{kind="rate_limited"} 2.0',
        "qualys_was_validation_mismatches 1.0",
        "qualys_was_last_success_timestamp_seconds 0.0",
    ):
        assert line in text.splitlines()
    assert "python_gc_objects_collected_total" not in text  # not the global registry


def test_store_counts_replace_old_labels() -> None:
    """Refreshing the store gauges drops label sets that no longer exist."""
    metrics = ServiceMetrics()
    metrics.set_store_counts({("Active", "High"): 1}, {"active": 1})
    metrics.set_store_counts({("Fixed", "High"): 1}, {"active": 1})
    text = metrics.render().decode()
    assert 'status="Active"' not in text
    assert 'status="Fixed"' in text


def test_unknown_path_is_404(serve: Callable[..., HealthServer]) -> None:
    """Anything but the three routes is a 404 listing them."""
    reply = get(serve(lambda: None), "/nope")
    assert reply.status == 404
    assert reply.json()["routes"] == ["/healthz", "/readyz", "/metrics"]


def test_port_in_use_is_one_clear_error(serve: Callable[..., HealthServer]) -> None:
    """Binding an occupied port fails with a message naming the address and the setting."""
    first = serve(lambda: None)
    second = HealthServer("127.0.0.1", first.port, metrics=ServiceMetrics(), readiness=lambda: None)
    with pytest.raises(ConnectorError, match=rf"cannot listen on 127.0.0.1:{first.port} .*service"):
        second.start()


# --- the real readiness check against a store ----------------------------------------------------


def test_store_readiness_is_ready_on_a_migrated_database(engine: Engine) -> None:
    """Migrated database, no failed sync: ready."""
    assert store_readiness(engine, DaemonState())() is None


def test_store_readiness_reports_a_failed_last_sync(engine: Engine) -> None:
    """The last sync failed: not ready, and the reason carries the sync's error."""
    state = DaemonState(last_outcome="failed", last_error="Qualys unreachable")
    assert store_readiness(engine, state)() == "the last sync failed: Qualys unreachable"


def test_store_readiness_reports_a_schema_behind(tmp_path: Path) -> None:
    """A database that was never migrated: not ready, telling the operator to upgrade."""
    engine = create_engine_for(f"sqlite:///{tmp_path / 'empty.db'}")
    try:
        reason = store_readiness(engine, DaemonState())()
    finally:
        engine.dispose()
    assert reason is not None
    assert "schema is empty" in reason
    assert "connector db upgrade" in reason


def test_store_readiness_reports_an_unreachable_database(tmp_path: Path) -> None:
    """A database that cannot be opened: not ready, with the store's message."""
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    engine = sa.create_engine(f"sqlite:///{blocker / 'db.sqlite'}")
    try:
        reason = store_readiness(engine, DaemonState())()
    finally:
        engine.dispose()
    assert reason is not None
    assert reason.startswith("cannot reach the database")
