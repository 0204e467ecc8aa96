"""`connector simulate`: loopback by default, prints where to point the connector."""

from __future__ import annotations

import io
import threading

import httpx
import pytest

from connector.cli import build_parser
from connector.commands import simulate
from connector.commands.context import CommandContext
from connector.simulator import Simulator
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


def test_cost_model_and_listing_options_reach_the_simulator() -> None:
    """--*-delay-ms, --hide-webapp and --no-updated-date-filter configure the served simulator."""
    ctx = context()
    args = build_parser().parse_args(
        [
            "simulate",
            "--port",
            "0",
            "--findings",
            "10",
            "--webapps",
            "2",
            "--page-delay-ms",
            "150",
            "--verbose-record-delay-ms",
            "0.25",
            "--brief-record-delay-ms",
            "0.05",
            "--count-delay-ms",
            "20",
            "--hide-webapp",
            "238483924",
            "--no-updated-date-filter",
        ]
    )
    served: list[Simulator] = []

    def serve(server: ThreadingWSGIServer) -> None:
        app = server.get_app()
        assert isinstance(app, Simulator)
        served.append(app)

    assert simulate.handle(args, ctx, serve=serve) == 0
    sim = served[0]
    assert (sim.page_delay, sim.verbose_record_delay, sim.brief_record_delay) == (
        0.15,
        0.00025,
        0.00005,
    )
    assert sim.count_delay == 0.02
    assert sim.hidden_webapps == {238483924}
    assert "/_simulator/stats" in ctx.stdout.getvalue()  # type: ignore[attr-defined]


def test_count_delay_defaults_to_the_page_delay() -> None:
    """Without --count-delay-ms a count costs what a page without records costs."""
    args = build_parser().parse_args(["simulate", "--port", "0", "--page-delay-ms", "5"])
    served: list[object] = []
    assert simulate.handle(args, context(), serve=lambda s: served.append(s.get_app())) == 0
    sim = served[0]
    assert isinstance(sim, Simulator)
    assert (sim.page_delay, sim.count_delay) == (0.005, None)


@pytest.mark.parametrize(
    "option", ["--page-delay-ms", "--verbose-record-delay-ms", "--count-delay-ms"]
)
@pytest.mark.parametrize("value", ["-1", "nan", "inf"])
def test_bad_delays_exit_2(option: str, value: str) -> None:
    """A negative, NaN or infinite delay is a configuration error (exit 2) naming the option."""
    ctx = context()
    args = build_parser().parse_args(["simulate", "--port", "0", option, value])
    assert simulate.handle(args, ctx, serve=lambda server: None) == 2
    assert option in ctx.stderr.getvalue()  # type: ignore[attr-defined]
