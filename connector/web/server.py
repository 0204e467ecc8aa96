"""Serving the console with uvicorn: on a socket bound first (so a busy port is one clear error),
in the foreground (`connector web`: uvicorn stops on SIGINT/SIGTERM) or in a background thread
beside the daemon (`connector serve`)."""

from __future__ import annotations

import logging
import socket
import threading

import uvicorn
from starlette.types import ASGIApp

from connector.errors import ConnectorError

log = logging.getLogger(__name__)
STOP_TIMEOUT = 10.0


class ConsoleServer:
    def __init__(self, app: ASGIApp, host: str, port: int) -> None:
        self.host = host
        self.requested_port = port
        config = uvicorn.Config(
            app,
            log_config=None,  # the connector's logging (redacted, one line per event)
            access_log=False,
            lifespan="off",
            server_header=False,
            proxy_headers=False,
            timeout_graceful_shutdown=5,
        )
        self._server = uvicorn.Server(config)
        self._socket: socket.socket | None = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        if self._socket is None:
            return self.requested_port
        return int(self._socket.getsockname()[1])

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def bind(self) -> None:
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((self.host, self.requested_port))
            sock.listen(128)
        except OSError as exc:
            sock.close()
            raise ConnectorError(
                f"the web console cannot listen on {self.host}:{self.requested_port} "
                f"({exc.strerror}): free the port or change web.listen"
            ) from exc
        sock.set_inheritable(True)
        self._socket = sock

    def serve_forever(self) -> None:
        """Serve in this (main) thread until SIGINT or SIGTERM."""
        if self._socket is None:
            self.bind()
        log.info("web console on %s", self.url)
        self._server.run(sockets=[self._socket] if self._socket else None)

    def start(self) -> None:
        """Serve in a background thread; returns once the server accepts connections."""
        if self._socket is None:
            self.bind()
        self._thread = threading.Thread(
            target=self._server.run,
            kwargs={"sockets": [self._socket]},
            name="web-console",
            daemon=True,
        )
        self._thread.start()
        while not self._server.started and self._thread.is_alive():
            self._thread.join(0.02)
        log.info("web console on %s", self.url)

    def stop(self) -> None:
        self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(STOP_TIMEOUT)
        if self._socket is not None:
            self._socket.close()
