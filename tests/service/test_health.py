"""The HTTP endpoints: /healthz, /readyz (ready and not, for each reason) and /metrics."""

from __future__ import annotations

import json
import socket
import socketserver
import struct
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from connector.errors import ConnectorError
from connector.service.health import HealthServer, Readiness, store_readiness, sync_details
from connector.service.metrics import ServiceMetrics, connector_version
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
    """A readiness check that raises a ConnectorError is a 503 with a reason naming nothing
    internal (the message goes to the log), not a crashed request."""

    def broken() -> str | None:
        raise ConnectorError("cannot reach the database")

    reply = get(serve(broken), "/readyz")
    assert reply.status == 503
    assert reply.json()["reason"] == "the readiness check failed (details in the log)"


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
    assert not [line for line in text.splitlines() if "_created" in line]
    assert any(line.startswith("process_resident_memory_bytes ") for line in text.splitlines())
    assert any(line.startswith("process_cpu_seconds_total ") for line in text.splitlines())
    (build,) = [line for line in text.splitlines() if line.startswith("qualys_was_build_info{")]
    assert build.startswith('qualys_was_build_info{version="') and build.endswith("} 1.0")
    assert f'version="{connector_version()}"' in build


def test_last_sync_failed_gauge_follows_outcomes() -> None:
    """qualys_was_last_sync_failed is 1 after a failed sync (or a failed one found at start),
    0 after a success, and a skipped run leaves it."""
    metrics = ServiceMetrics()
    metrics.set_last_outcome("failed")
    assert "qualys_was_last_sync_failed 1.0" in metrics.render().decode().splitlines()
    metrics.record_run("succeeded", 1.0, finished_at=datetime.now(UTC))
    metrics.set_last_outcome("skipped")
    assert "qualys_was_last_sync_failed 0.0" in metrics.render().decode().splitlines()


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
    """Migrated database: ready."""
    assert store_readiness(engine)() is None


def test_a_failed_last_sync_is_not_unready_but_shows_in_healthz(
    engine: Engine, serve: Callable[..., HealthServer]
) -> None:
    """Ready means able to run: a failed last sync keeps /readyz 200 and shows in /healthz
    (outcome and times, not the error text, which can name the Qualys user or URL)."""
    state = DaemonState(
        last_outcome="failed", last_error="Qualys rejected the credentials for user alice"
    )
    server = HealthServer(
        "127.0.0.1",
        0,
        metrics=ServiceMetrics(),
        readiness=store_readiness(engine),
        details=sync_details(state),
    )
    server.start()
    try:
        assert get(server, "/readyz").status == 200
        health = get(server, "/healthz")
    finally:
        server.stop()
    assert health.status == 200
    body = health.json()
    assert body["status"] == "ok"
    assert body["last_sync_outcome"] == "failed"
    assert body["sync_running"] is False
    assert "alice" not in health.body.decode()


def test_store_readiness_reports_a_schema_behind(tmp_path: Path) -> None:
    """A database that was never migrated: not ready, telling the operator to upgrade."""
    engine = create_engine_for(f"sqlite:///{tmp_path / 'empty.db'}")
    try:
        reason = store_readiness(engine)()
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
        reason = store_readiness(engine)()
    finally:
        engine.dispose()
    assert reason == "the database cannot be reached (details in the log)"


def test_readyz_names_no_user_url_or_database_host(
    serve: Callable[..., HealthServer], caplog: pytest.LogCaptureFixture
) -> None:
    """An unreachable PostgreSQL: /readyz says so without the user, host or URL (the probe is
    unauthenticated); the log has the detail, password masked."""
    engine = create_engine_for("postgresql+psycopg://scott:tiger@db-7.internal.test:1/qualys")
    try:
        reply = get(serve(store_readiness(engine)), "/readyz")
    finally:
        engine.dispose()
    assert reply.status == 503
    text = reply.body.decode()
    for secret in ("scott", "tiger", "db-7.internal.test", "postgresql", "qualys"):
        assert secret not in text
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "db-7.internal.test" in logged
    assert "tiger" not in logged


# --- connections that misbehave -----------------------------------------------------------------


def test_held_open_connections_do_not_tie_up_the_server(
    serve: Callable[..., HealthServer],
) -> None:
    """200 clients that connect and send nothing do not stop a probe from being answered, and
    the server closes them after its read timeout."""
    server = HealthServer(
        "127.0.0.1", 0, metrics=ServiceMetrics(), readiness=lambda: None, read_timeout=0.5
    )
    server.start()
    held: list[socket.socket] = []
    try:
        for _ in range(200):
            held.append(socket.create_connection(("127.0.0.1", server.port), timeout=10))
        assert get(server, "/healthz").status == 200
        for sock in held[:20]:
            assert sock.recv(1) == b""  # closed by the server, not by us
    finally:
        for sock in held:
            sock.close()
        server.stop()


def test_a_burst_of_probes_is_answered(serve: Callable[..., HealthServer]) -> None:
    """100 probes at once (the listen backlog holds them) are all answered."""
    server = serve(lambda: None)
    with ThreadPoolExecutor(max_workers=50) as pool:
        statuses = list(pool.map(lambda _: get(server, "/readyz").status, range(100)))
    assert statuses == [200] * 100


def report_a_broken_pipe(http: socketserver.BaseServer) -> None:
    """What socketserver does when a handler raises: call handle_error inside the except."""
    try:
        hang_up()
    except BrokenPipeError:
        http.handle_error(None, ("127.0.0.1", 1))


def hang_up() -> None:
    raise BrokenPipeError(32, "Broken pipe")


def test_a_client_that_hangs_up_is_not_logged_as_a_traceback(
    serve: Callable[..., HealthServer],
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A broken pipe while answering is routine: nothing on stderr, no traceback in the log."""
    server = serve(lambda: None)
    for _ in range(20):  # hang up hard (RST) right after asking for the biggest page
        sock = socket.create_connection(("127.0.0.1", server.port), timeout=5)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.sendall(b"GET /metrics HTTP/1.0\r\n\r\n")
        sock.close()
    assert server._server is not None
    report_a_broken_pipe(server._server)
    assert get(server, "/healthz").status == 200
    assert "Traceback" not in capsys.readouterr().err
    assert not [r for r in caplog.records if r.exc_info or r.levelno >= 30]
