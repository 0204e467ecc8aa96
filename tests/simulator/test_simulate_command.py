"""`connector simulate`: loopback by default, prints where to point the connector."""

from __future__ import annotations

import io
import threading

import httpx

from connector.cli import build_parser
from connector.commands import simulate
from connector.commands.context import CommandContext
from connector.simulator.server import ThreadingWSGIServer


def context() -> CommandContext:
    return CommandContext(environ={}, stdout=io.StringIO(), stderr=io.StringIO())


def test_serves_and_prints_the_url_and_login() -> None:
    """The command binds loopback, prints api_url and username, and the server answers."""
    ctx = context()
    args = build_parser().parse_args(
        ["simulate", "--port", "0", "--findings", "30", "--webapps", "2"]
    )
    seen: dict[str, int] = {}

    def serve(server: ThreadingWSGIServer) -> None:
        host, port = server.server_address[:2]
        thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
        thread.start()
        try:
            response = httpx.get(
                f"http://{host}:{port}/qps/rest/portal/version", auth=("sim", "sim")
            )
            seen["status"] = response.status_code
        finally:
            server.shutdown()
            thread.join()
        raise KeyboardInterrupt

    assert simulate.handle(args, ctx, serve=serve) == 0
    out = ctx.stdout.getvalue()  # type: ignore[attr-defined]
    assert seen == {"status": 200}
    assert "api_url   http://127.0.0.1:" in out
    assert "username  sim" in out
    assert "simulator stopped" in out


def test_custom_password_is_not_printed() -> None:
    """A password given on the command line is never echoed."""
    ctx = context()
    args = build_parser().parse_args(["simulate", "--port", "0", "--password", "hunter2"])
    assert simulate.handle(args, ctx, serve=lambda server: None) == 0
    assert "hunter2" not in ctx.stdout.getvalue()  # type: ignore[attr-defined]


def test_refuses_a_non_loopback_address_without_allow_remote() -> None:
    """Binding 0.0.0.0 is refused with exit 2 unless --allow-remote is given."""
    ctx = context()
    args = build_parser().parse_args(["simulate", "--host", "0.0.0.0"])
    assert simulate.handle(args, ctx, serve=lambda server: None) == 2
    assert "--allow-remote" in ctx.stderr.getvalue()  # type: ignore[attr-defined]
