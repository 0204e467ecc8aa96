"""The HTTP endpoints: /healthz (alive), /readyz (able to do its job), /metrics (Prometheus).

A stdlib ThreadingHTTPServer in a daemon thread. Readiness is an injected function returning None
when ready or the reason it is not, so the server knows nothing about databases or syncs.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from sqlalchemy.engine import Engine

from connector.errors import ConnectorError, StoreError
from connector.models import RunOutcome
from connector.service.metrics import CONTENT_TYPE, ServiceMetrics
from connector.service.scheduler import DaemonState
from connector.store.database import check_database, schema_status

log = logging.getLogger(__name__)

Readiness = Callable[[], str | None]  # None: ready; otherwise why not


def store_readiness(engine: Engine, state: DaemonState) -> Readiness:
    """Ready: the database answers, its schema is at head, and the last sync did not fail."""

    def check() -> str | None:
        try:
            check_database(engine)
            status = schema_status(engine)
        except StoreError as exc:
            return str(exc)
        if status.state != "current":
            return (
                f"database schema is {status.state} (at {status.current}, connector needs "
                f"{status.head}): run `connector db upgrade`"
            )
        if state.last_outcome == RunOutcome.FAILED.value:
            return f"the last sync failed: {state.last_error or 'no reason recorded'}"
        return None

    return check


class HealthServer:
    """Serves the three routes on host:port until `stop()`; port 0 picks a free port."""

    def __init__(
        self, host: str, port: int, *, metrics: ServiceMetrics, readiness: Readiness
    ) -> None:
        self.host = host
        self.requested_port = port
        self.metrics = metrics
        self.readiness = readiness
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
            self._server = ThreadingHTTPServer((self.host, self.requested_port), handler)
        except OSError as exc:
            raise ConnectorError(
                f"cannot listen on {self.host}:{self.requested_port} ({exc.strerror}): "
                "free the port or change service.listen"
            ) from exc
        self._server.daemon_threads = True
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

        def do_GET(self) -> None:  # noqa: N802 - the name http.server dispatches to
            path = self.path.split("?", 1)[0]
            if path == "/healthz":
                self._json(HTTPStatus.OK, {"status": "ok"})
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
                reason = str(exc)
            if reason is None:
                self._json(HTTPStatus.OK, {"status": "ready"})
            else:
                self._json(
                    HTTPStatus.SERVICE_UNAVAILABLE, {"status": "not ready", "reason": reason}
                )

        def _json(self, status: HTTPStatus, body: dict[str, Any]) -> None:
            self._send(status, "application/json", json.dumps(body).encode("utf-8"))

        def _send(self, status: HTTPStatus, content_type: str, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            log.debug("http %s", format % args)

    return Handler


_ROUTES = ["/healthz", "/readyz", "/metrics"]
