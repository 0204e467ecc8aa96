"""The HTTP endpoints: /healthz (alive, plus how the syncs went), /readyz (able to run: the
database answers at the current schema), /metrics (Prometheus).

A stdlib ThreadingHTTPServer in a daemon thread, with a read timeout (idle connections cannot tie
it up), a listen backlog for bursts of probes, and quiet handling of clients that hang up.
Readiness and the /healthz details are injected functions, so the server knows nothing about
databases or syncs. Nothing served names a user, a Qualys URL or a database host.
"""

from __future__ import annotations

import json
import logging
import sys
import threading
from collections.abc import Callable
from datetime import datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from sqlalchemy.engine import Engine

from connector.errors import ConnectorError, StoreError
from connector.mapping import format_datetime
from connector.service.metrics import CONTENT_TYPE, ServiceMetrics
from connector.service.scheduler import DaemonState
from connector.store.database import check_database, schema_status

log = logging.getLogger(__name__)

Readiness = Callable[[], str | None]  # None: ready; otherwise why not (shown to anyone: no secrets)
Details = Callable[[], dict[str, Any]]  # what /healthz adds about the syncs

READ_TIMEOUT_SECONDS = 5.0  # an idle or slow client is dropped after this; probes take milliseconds
LISTEN_BACKLOG = 128  # a burst of probes (several kubelets, a scraper) waits here, not refused
_DISCONNECTS = (BrokenPipeError, ConnectionResetError, ConnectionAbortedError, TimeoutError)


def store_readiness(engine: Engine) -> Readiness:
    """Ready means able to run: the database answers and its schema is at head. A failed last
    sync does not make the process unready (it shows in /healthz and the metrics).

    The reason shown names no database host, user or URL (the probe is unauthenticated); the
    detailed one is logged when it changes."""
    last_logged: list[str | None] = [None]

    def check() -> str | None:
        public, detail = _store_problem(engine)
        if detail != last_logged[0]:
            if detail is not None:
                log.warning("not ready: %s", detail)
            elif last_logged[0] is not None:
                log.info("ready again: the database answers and its schema is current")
            last_logged[0] = detail
        return public

    return check


def _store_problem(engine: Engine) -> tuple[str | None, str | None]:
    """(what /readyz says, what the log says); (None, None) when ready."""
    try:
        check_database(engine)
        status = schema_status(engine)
    except StoreError as exc:
        return "the database cannot be reached (details in the log)", str(exc)
    if status.state != "current":
        reason = (
            f"database schema is {status.state} (at {status.current}, connector needs "
            f"{status.head}): run `connector db upgrade`"
        )
        return reason, reason
    return None, None


def sync_details(state: DaemonState) -> Details:
    """/healthz's view of the syncs: running, last outcome and times (the error text stays in
    the log and the metrics: it can name the Qualys user or URL)."""

    def details() -> dict[str, Any]:
        def when(moment: datetime | None) -> str | None:
            return format_datetime(moment) if moment is not None else None

        return {
            "sync_running": state.running,
            "last_sync_outcome": state.last_outcome,
            "last_sync_started_at": when(state.last_started_at),
            "last_sync_finished_at": when(state.last_finished_at),
            "last_success_at": when(state.last_success_at),
        }

    return details


class _Server(ThreadingHTTPServer):
    request_queue_size = LISTEN_BACKLOG
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that went away is routine; anything else is one log line, not stderr."""
        error = sys.exc_info()[1]
        if isinstance(error, _DISCONNECTS):
            log.debug("http client %s went away: %r", client_address, error)
        else:
            log.warning("http request from %s failed: %r", client_address, error)


class HealthServer:
    """Serves the three routes on host:port until `stop()`; port 0 picks a free port."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        metrics: ServiceMetrics,
        readiness: Readiness,
        details: Details | None = None,
        read_timeout: float = READ_TIMEOUT_SECONDS,
    ) -> None:
        self.host = host
        self.requested_port = port
        self.metrics = metrics
        self.readiness = readiness
        self.details = details
        self.read_timeout = read_timeout
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        if self._server is None:
            return self.requested_port
        return int(self._server.server_address[1])

    def start(self) -> None:
        handler = _handler_class(self)
        try:
            self._server = _Server((self.host, self.requested_port), handler)
        except OSError as exc:
            raise ConnectorError(
                f"cannot listen on {self.host}:{self.requested_port} ({exc.strerror}): "
                "free the port or change service.listen"
            ) from exc
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.1},  # how long stop() may wait
            name="health-http",
            daemon=True,
        )
        self._thread.start()
        log.info("serving /healthz, /readyz and /metrics on %s:%d", self.host, self.port)

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None


def _handler_class(server: HealthServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "qualys-was-connector"
        sys_version = ""  # no Python version in the Server header
        timeout = server.read_timeout  # socket timeout: idle connections are closed

        def do_GET(self) -> None:  # noqa: N802 - the name http.server dispatches to
            path = self.path.split("?", 1)[0]
            if path == "/healthz":
                body: dict[str, Any] = {"status": "ok"}
                if server.details is not None:
                    body.update(server.details())
                self._json(HTTPStatus.OK, body)
            elif path == "/readyz":
                self._ready()
            elif path == "/metrics":
                self._send(HTTPStatus.OK, CONTENT_TYPE, server.metrics.render())
            else:
                self._json(HTTPStatus.NOT_FOUND, {"status": "not found", "routes": _ROUTES})

        def _ready(self) -> None:
            try:
                reason = server.readiness()
            except ConnectorError as exc:
                log.warning("not ready: %s", exc)
                reason = "the readiness check failed (details in the log)"
            if reason is None:
                self._json(HTTPStatus.OK, {"status": "ready"})
            else:
                self._json(
                    HTTPStatus.SERVICE_UNAVAILABLE, {"status": "not ready", "reason": reason}
                )

        def _json(self, status: HTTPStatus, body: dict[str, Any]) -> None:
            self._send(status, "application/json", json.dumps(body).encode("utf-8"))

        def _send(self, status: HTTPStatus, content_type: str, body: bytes) -> None:
            try:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            except _DISCONNECTS as exc:  # the prober gave up first: nothing to tell anyone
                log.debug("http client went away before the answer: %r", exc)
                self.close_connection = True

        def log_message(self, format: str, *args: Any) -> None:
            log.debug("http %s", format % args)

    return Handler


_ROUTES = ["/healthz", "/readyz", "/metrics"]
