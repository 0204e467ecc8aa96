"""Serving a simulator on a real socket: a threaded wsgiref server, in front or in a thread."""

from __future__ import annotations

import io
import socket
import threading
from dataclasses import dataclass
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from connector.simulator.app import Simulator


class _QuietHandler(WSGIRequestHandler):
    """No access log and no tracebacks on stderr (an injected connection reset is expected)."""

    def log_message(self, format: str, *args: Any) -> None:
        return

    def get_stderr(self) -> io.StringIO:
        return io.StringIO()


class ThreadingWSGIServer(ThreadingMixIn, WSGIServer):
    """One thread per connection, so concurrent calls really overlap (and page delays with them)."""

    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that hangs up mid-answer is normal here; keep the console quiet."""
        return


def make_simulator_server(
    sim: Simulator, host: str = "127.0.0.1", port: int = 0
) -> ThreadingWSGIServer:
    """Bind a threaded server for `sim` (port 0 picks a free port)."""
    server = make_server(
        host, port, sim, server_class=ThreadingWSGIServer, handler_class=_QuietHandler
    )
    assert isinstance(server, ThreadingWSGIServer)
    return server


def base_url_of(server: ThreadingWSGIServer) -> str:
    host, port = server.server_address[:2]
    host = str(host)
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port}"


@dataclass
class RunningServer:
    """A simulator serving on loopback in a background thread; `stop()` shuts it down."""

    base_url: str
    simulator: Simulator
    _server: ThreadingWSGIServer
    _thread: threading.Thread

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> RunningServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def serve_in_thread(sim: Simulator, host: str = "127.0.0.1", port: int = 0) -> RunningServer:
    """Start serving `sim` in a daemon thread; returns once the socket accepts connections."""
    server = make_simulator_server(sim, host, port)
    thread = threading.Thread(
        target=server.serve_forever,
        kwargs={"poll_interval": 0.05},
        name="qualys-simulator",
        daemon=True,
    )
    thread.start()
    return RunningServer(
        base_url=base_url_of(server), simulator=sim, _server=server, _thread=thread
    )


def is_loopback(host: str) -> bool:
    """True when `host` resolves only to loopback addresses."""
    try:
        infos = socket.getaddrinfo(host, None)
    except socket.gaierror:
        return False
    return bool(infos) and all(
        info[4][0].startswith("127.") or info[4][0] == "::1" for info in infos
    )
