"""`connector demo`: the product end to end without a Qualys account.

Starts the built-in simulator on a loopback port, syncs its generated tenant into SQLite, changes
the tenant the way a week of scanning would (a finding fixed, one gone, one new), syncs again, and
shows an export. Nothing here is special-cased: it is the real client, sync and store.
"""

from __future__ import annotations

import argparse
import io
from datetime import UTC, datetime
from itertools import islice

from rich.console import Console

from connector import exports
from connector.commands.context import CommandContext
from connector.commands.sync import print_summary, sync_with_progress
from connector.config import Secret, config_for_tests
from connector.logsetup import configure_logging
from connector.qualys.client import QualysClient
from connector.simulator import Dataset, Simulator, serve_in_thread
from connector.store.database import create_engine_for, ensure_schema
from connector.store.queries import ExportFilter, iter_findings

DEMO_LOGIN = ("demo", "demo-password")


def register(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "Runs the simulator on a loopback port, a first sync, a few changes on the "
        "simulated tenant (a finding fixed, one removed, one added), a second sync, and shows "
        "three exported findings. Needs no configuration and no Qualys account."
    )
    parser.add_argument(
        "--database",
        default="sqlite:///data/demo.db",
        help="where to store the demo data (default sqlite:///data/demo.db)",
    )
    parser.add_argument("--webapps", type=int, default=10, help="simulated web apps (10)")
    parser.add_argument("--findings", type=int, default=2000, help="simulated findings (2000)")
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace, ctx: CommandContext) -> int:
    configure_logging("auto", "debug" if ctx.debug else "warning", stream=ctx.stderr)
    console = Console(file=ctx.stdout)
    now = datetime.now(UTC).replace(microsecond=0)
    dataset = Dataset.generate(webapps=args.webapps, findings=args.findings, seed=1, now=now)
    username, password = DEMO_LOGIN
    with serve_in_thread(Simulator(dataset, username=username, password=password)) as server:
        config = config_for_tests(
            qualys={"api_url": server.base_url, "username": username, "password": Secret(password)},
            database_url=args.database,
        )
        console.print(f"Qualys simulator on {server.base_url}; database {args.database}")
        engine = create_engine_for(config.database_url)
        try:
            ensure_schema(engine)
            with QualysClient(config.qualys) as client:
                console.rule("first sync")
                print_summary(
                    console,
                    sync_with_progress(config, engine, client, console, bars=True),
                    config.sync.asset_retention_days,
                )
                _a_week_of_scanning(dataset)
                console.rule("second sync, after a finding was fixed, one removed and one added")
                print_summary(
                    console,
                    sync_with_progress(config, engine, client, console, bars=True),
                    config.sync.asset_retention_days,
                )
            console.rule(
                "three Active findings as `connector export findings --status Active` writes them"
            )
            with engine.connect() as conn:
                rows = islice(
                    iter_findings(conn, config.connector_name, ExportFilter(statuses=("Active",))),
                    3,
                )
                out = io.StringIO()
                exports.write("findings", rows, "jsonl", out)
            console.print(out.getvalue(), markup=False, highlight=False, soft_wrap=True)
        finally:
            engine.dispose()
    console.print(
        f"Try: connector export findings --format csv (with CONNECTOR_DATABASE_URL={args.database})"
    )
    console.print(
        f"Or browse it: CONNECTOR_DATABASE_URL={args.database} CONNECTOR_WEB_PASSWORD=choose-one "
        ".venv/bin/connector web, then open http://127.0.0.1:8080 and log in as admin"
    )
    return 0


def _a_week_of_scanning(dataset: Dataset) -> None:
    open_findings = [f for f in dataset.findings() if f.status in ("NEW", "ACTIVE", "REOPENED")]
    if len(open_findings) >= 3:
        dataset.set_finding_status(open_findings[0].id, "FIXED")
        dataset.remove_finding(open_findings[1].id)
        like = open_findings[2]
        dataset.add_finding(like.webapp_id, qid=like.qid, status="NEW")
