"""`connector simulate`: serve a generated Qualys WAS + KB tenant on loopback until Ctrl-C.

The server cost model (`--page-delay-ms`, `--verbose-record-delay-ms`, `--brief-record-delay-ms`,
`--count-delay-ms`) and the listing quirks (`--hide-webapp`, `--no-updated-date-filter`) are the
`Simulator` options of the same names. A benchmark that starts this command in its own process
reads the counters with `GET /_simulator/stats` and applies a day of changes with
`POST /_simulator/day` (see connector/simulator/control.py).
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable
from datetime import UTC, datetime

from connector.commands.context import CommandContext
from connector.errors import ExitCode
from connector.simulator import Dataset, Simulator
from connector.simulator.server import (
    ThreadingWSGIServer,
    base_url_of,
    is_loopback,
    make_simulator_server,
)

DEFAULT_PASSWORD = "sim"  # noqa: S105 - the simulator's documented demo login, not a secret


def register(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "Serve a fake Qualys API (WAS v3.0 web app and finding search/count, get "
        "web app, portal version, KnowledgeBase vuln list) over a seeded, generated data set, "
        "so the connector can be tried without Qualys credentials. Listens on loopback only "
        "unless --allow-remote. Prints the URL and login to put in the connector's config, then "
        "serves until Ctrl-C."
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8080, help="port (default 8080; 0 = any)")
    parser.add_argument("--webapps", type=int, default=20, help="web apps to generate (20)")
    parser.add_argument("--findings", type=int, default=2000, help="findings to generate (2000)")
    parser.add_argument("--seed", type=int, default=1, help="data set seed (1)")
    parser.add_argument(
        "--page-delay-ms",
        type=float,
        default=0.0,
        help="simulated server time per search page, in milliseconds (0)",
    )
    parser.add_argument(
        "--verbose-record-delay-ms",
        type=float,
        default=0.0,
        help="simulated server time per record on a verbose page or get, in milliseconds (0)",
    )
    parser.add_argument(
        "--brief-record-delay-ms",
        type=float,
        default=0.0,
        help="simulated server time per record on a non-verbose page, in milliseconds (0)",
    )
    parser.add_argument(
        "--count-delay-ms",
        type=float,
        default=None,
        help="simulated server time per count call, in milliseconds (default: --page-delay-ms)",
    )
    parser.add_argument(
        "--hide-webapp",
        type=int,
        action="append",
        default=[],
        metavar="ID",
        help="leave this web app out of web app searches and counts while its findings stay "
        "listed (repeatable)",
    )
    parser.add_argument(
        "--no-updated-date-filter",
        action="store_true",
        help="refuse updatedDate as a finding filter (INVALID_REQUEST), as real Qualys may",
    )
    parser.add_argument(
        "--kb-max-results",
        type=int,
        default=None,
        help="answer at most this many KB entries per call, with a WARNING URL for the rest",
    )
    parser.add_argument(
        "--concurrency-limit",
        type=int,
        default=None,
        help="refuse calls beyond this many in flight with 409/1960, as Qualys does",
    )
    parser.add_argument("--username", default="sim", help="login to accept (sim)")
    parser.add_argument("--password", default=DEFAULT_PASSWORD, help="password to accept (sim)")
    parser.add_argument(
        "--allow-remote",
        action="store_true",
        help="allow binding a non-loopback address (the simulator has no TLS)",
    )
    parser.set_defaults(handler=handle)


def handle(
    args: argparse.Namespace,
    ctx: CommandContext,
    *,
    serve: Callable[[ThreadingWSGIServer], None] | None = None,
) -> int:
    """Build the data set and serve it; `serve` replaces `serve_forever` in tests."""
    if not args.allow_remote and not is_loopback(args.host):
        print(
            f"error: refusing to listen on {args.host}: it is not a loopback address "
            "(pass --allow-remote to do it anyway)",
            file=ctx.stderr,
        )
        return int(ExitCode.CONFIG)
    if args.webapps < 0 or args.findings < 0:
        print("error: --webapps and --findings must be >= 0", file=ctx.stderr)
        return int(ExitCode.CONFIG)
    delays = {
        "--page-delay-ms": args.page_delay_ms,
        "--verbose-record-delay-ms": args.verbose_record_delay_ms,
        "--brief-record-delay-ms": args.brief_record_delay_ms,
        "--count-delay-ms": 0.0 if args.count_delay_ms is None else args.count_delay_ms,
    }
    bad = [name for name, value in delays.items() if not 0.0 <= value < math.inf]
    if bad:
        print(f"error: {', '.join(bad)} must be a number of milliseconds >= 0", file=ctx.stderr)
        return int(ExitCode.CONFIG)
    if args.findings and not args.webapps:
        print("error: findings need at least one web app (--webapps)", file=ctx.stderr)
        return int(ExitCode.CONFIG)
    dataset = Dataset.generate(
        webapps=args.webapps,
        findings=args.findings,
        seed=args.seed,
        now=datetime.now(UTC).replace(microsecond=0),  # fresh dates, so retention keeps them
    )
    sim = Simulator(
        dataset,
        username=args.username,
        password=args.password,
        page_delay=args.page_delay_ms / 1000,
        verbose_record_delay=args.verbose_record_delay_ms / 1000,
        brief_record_delay=args.brief_record_delay_ms / 1000,
        count_delay=None if args.count_delay_ms is None else args.count_delay_ms / 1000,
        hidden_webapps=args.hide_webapp,
        updated_date_filter=not args.no_updated_date_filter,
        kb_max_results=args.kb_max_results,
        concurrency_limit=args.concurrency_limit,
    )
    try:
        server = make_simulator_server(sim, args.host, args.port)
    except OSError as exc:
        print(f"error: cannot listen on {args.host}:{args.port}: {exc.strerror}", file=ctx.stderr)
        return int(ExitCode.FAILED)
    url = base_url_of(server)
    password_hint = (
        args.password if args.password == DEFAULT_PASSWORD else "(the --password you gave)"
    )
    print(
        f"Qualys simulator: {args.webapps} web apps, {args.findings} findings, seed {args.seed}\n"
        f"  api_url   {url}\n"
        f"  username  {args.username}\n"
        f"  password  {password_hint}\n"
        "Point the connector at it, e.g.:\n"
        f"  export CONNECTOR_QUALYS_API_URL={url} QUALYS_USERNAME={args.username} "
        "QUALYS_PASSWORD=...\n"
        f"Simulator counters: GET {url}/_simulator/stats (same login)\n"
        "Serving until Ctrl-C.",
        file=ctx.stdout,
        flush=True,
    )
    try:
        (serve or _serve_forever)(server)
    except KeyboardInterrupt:
        print("simulator stopped", file=ctx.stdout)
    finally:
        server.server_close()
    return int(ExitCode.OK)


def _serve_forever(server: ThreadingWSGIServer) -> None:
    server.serve_forever(poll_interval=0.2)
