"""`connector sync`: run one sync now, with progress and a summary table."""

from __future__ import annotations

import argparse
import json
import logging
import os
import socket
from functools import partial
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn
from rich.table import Table
from sqlalchemy import Engine

from connector.commands.context import CommandContext
from connector.commands.validate import print_report
from connector.config import Config
from connector.errors import ConnectorError, ExitCode, QualysUnreachableError
from connector.mapping import format_datetime
from connector.models import Severity
from connector.qualys.client import QualysClient
from connector.store.database import create_engine_for, ensure_schema
from connector.sync import SyncReport, run_sync
from connector.validate import validate

log = logging.getLogger(__name__)


def register(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "Fetch every web app, finding and needed KB entry from Qualys WAS, store "
        "them, mark findings Fixed, archive stale assets, and print a summary. Exit 0 on "
        "success, 1 when the sync failed, 2 for configuration errors, 3 when Qualys refuses "
        "the credentials, 4 when a sync is already running."
    )
    parser.add_argument(
        "--no-progress", action="store_true", help="log progress lines instead of drawing bars"
    )
    parser.add_argument(
        "--full",
        action="store_true",
        help="read every finding's details, even when an incremental sync would do "
        "(a sync is incremental after a full one within [sync] full_sync_every_days)",
    )
    parser.add_argument(
        "--wait",
        type=float,
        default=0,
        metavar="SECONDS",
        help="when another process is syncing this connector, wait up to this long for it "
        "(default: report it and exit 4 at once)",
    )
    parser.add_argument(
        "--json",
        action="store_true",
        help="print the summary as one JSON object (progress goes to the log on stderr)",
    )
    parser.set_defaults(handler=handle)


class RichProgress:
    """Progress bars per phase (web apps, findings, knowledge base) on a terminal."""

    def __init__(self, bars: Progress) -> None:
        self.bars = bars
        self.tasks: dict[str, TaskID] = {}

    def start(self, phase: str, total: int | None) -> None:
        self.tasks[phase] = self.bars.add_task(phase, total=total)

    def advance(self, phase: str, amount: int) -> None:
        self.bars.advance(self.tasks[phase], amount)


class LogProgress:
    """One log line per page when there is no terminal."""

    def __init__(self) -> None:
        self.done: dict[str, int] = {}
        self.totals: dict[str, int | None] = {}

    def start(self, phase: str, total: int | None) -> None:
        self.done[phase] = 0
        self.totals[phase] = total
        log.info("%s: starting%s", phase, f" ({total} expected)" if total is not None else "")

    def advance(self, phase: str, amount: int) -> None:
        self.done[phase] += amount
        total = self.totals[phase]
        log.info("%s: %d%s", phase, self.done[phase], f"/{total}" if total is not None else "")


def handle(args: argparse.Namespace, ctx: CommandContext) -> int:
    config = ctx.config()
    console = Console(file=ctx.stdout)
    bars = not (args.no_progress or args.json)
    engine = create_engine_for(config.database_url)
    try:
        ensure_schema(engine)
        with QualysClient(config.qualys) as client:
            report = sync_with_progress(
                config,
                engine,
                client,
                console,
                bars=bars,
                lock_wait=args.wait,
                full=args.full,
            )
            validation = validate(config, engine, client) if config.sync.validate_after else None
    except ConnectorError as exc:
        failed = exc.exit_code == ExitCode.FAILED or isinstance(exc, QualysUnreachableError)
        if args.json:
            outcome = "failed" if failed else "not started"
            body = {
                "outcome": outcome,
                "exit_code": int(ExitCode.FAILED if failed else exc.exit_code),
                "error": str(exc),
            }
            print(json.dumps(body), file=ctx.stdout)
        if failed:
            print(f"error: sync failed: {exc}", file=ctx.stderr)
            return int(ExitCode.FAILED)
        raise
    finally:
        engine.dispose()
    if args.json:
        body = summary_json(report)
        body["validation"] = validation.as_dict() if validation is not None else None
        print(json.dumps(body, indent=2), file=ctx.stdout)
        return int(ExitCode.OK)
    print_summary(console, report, config.sync.asset_retention_days)
    if validation is not None:
        print_report(console, validation)
    return int(ExitCode.OK)


def summary_json(report: SyncReport) -> dict[str, Any]:
    """The sync's report for scripts: the run and its counts exactly as the sync tallied them."""
    return {
        "run_id": report.run_id,
        "outcome": str(report.outcome),
        "mode": str(report.mode),
        "mode_reason": report.mode_reason,
        "started_at": format_datetime(report.started_at),
        "duration_seconds": round(report.duration_seconds, 3),
        "api_calls": report.api_calls,
        "retries": report.retries,
        "error": report.error,
        "counts": report.counts.as_dict(),
    }


def sync_with_progress(
    config: Config,
    engine: Engine,
    client: QualysClient,
    console: Console,
    *,
    bars: bool,
    lock_wait: float = 0,
    full: bool = False,
) -> SyncReport:
    """One sync, drawing bars on a terminal (when `bars`) and logging progress lines otherwise."""
    sync = partial(
        run_sync,
        config,
        engine,
        client,
        host=socket.gethostname(),
        pid=os.getpid(),
        lock_wait_seconds=lock_wait,
        full=full,
    )
    if console.is_terminal and bars:
        columns = (TextColumn("{task.description:>15}"), BarColumn(), MofNCompleteColumn())
        with Progress(*columns, console=console, transient=True) as progress:
            return sync(progress=RichProgress(progress))
    return sync(progress=LogProgress())


def print_summary(console: Console, report: SyncReport, retention_days: int) -> None:
    c = report.counts
    table = Table(
        title=f"{report.mode.value} sync {report.run_id} {report.outcome.value} in "
        f"{report.duration_seconds:.1f}s"
    )
    for column in ("", "created", "updated", "unchanged", "fixed", "archived"):
        table.add_column(column, justify="right" if column else "left")
    table.add_row(
        "assets",
        str(c.assets_created),
        str(c.assets_updated),
        str(c.assets_unchanged),
        "",
        str(c.assets_archived),
    )
    table.add_row(
        "findings",
        str(c.findings_created),
        str(c.findings_updated),
        str(c.findings_unchanged),
        str(c.findings_fixed_by_qualys + c.findings_fixed_absent),
        "",
    )
    console.print(table)
    severities = Table(title="Active findings by severity (archived assets left out)")
    labels = [s.value for s in Severity][::-1]
    for label in labels:
        severities.add_column(label, justify="right")
    severities.add_row(*(str(c.active_by_severity.get(label, 0)) for label in labels))
    console.print(severities)
    console.print(
        f"fixed by Qualys status: {c.findings_fixed_by_qualys}, absent from Qualys: "
        f"{c.findings_fixed_absent}, reopened: {c.findings_reopened}, assets reactivated: "
        f"{c.assets_reactivated}; KB entries fetched: {c.kb_fetched} (unknown QIDs: "
        f"{c.kb_unknown}); API calls: {report.api_calls}, retries: {report.retries}"
    )
    console.print(
        f"{report.mode.value} sync: {report.mode_reason}; findings listed: {c.findings_listed}, "
        f"details read: {c.findings_fetched}, only retested: {c.findings_retested}"
    )
    if c.assets_archived:
        console.print(
            f"archived {c.assets_archived} assets, {c.assets_archived_imported} of them imported, "
            f"not seen for {retention_days} days"
        )
    for reason, count in sorted(c.skipped.items()):
        console.print(f"skipped {count}: {reason}")
    for warning in c.warnings:
        console.print(f"warning: {warning}")
