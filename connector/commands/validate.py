"""`connector validate`: compare Qualys' counts with the store; exit 5 on any mismatch."""

from __future__ import annotations

import argparse
import json
from typing import TextIO

from rich.console import Console
from rich.table import Table

from connector.commands.context import CommandContext
from connector.errors import ExitCode
from connector.qualys.client import QualysClient
from connector.store.database import open_existing
from connector.validate import ValidationReport, validate

PIPE_WIDTH = 200


def register(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "Compares the number of web apps in Qualys with the stored ones, and per "
        "web application the findings Qualys counts open (new, active, reopened; of the types "
        "the sync fetches) with the stored Active ones. Web apps archived by retention and "
        "findings imported from files are noted, not compared. Prints every mismatch with its "
        "likely cause. Reads the database only. Exit 0 when they match, 5 when not."
    )
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace, ctx: CommandContext) -> int:
    config = ctx.config()
    engine = open_existing(config.database_url)  # reading never creates or migrates a database
    try:
        with QualysClient(config.qualys) as client:
            report = validate(config, engine, client)
    finally:
        engine.dispose()
    if args.json:
        print(json.dumps(report.as_dict(), indent=2), file=ctx.stdout)
    else:
        print_report(report_console(ctx.stdout), report)
    return int(ExitCode.OK if report.ok else ExitCode.MISMATCH)


def report_console(stream: TextIO) -> Console:
    """A console on `stream`; without a terminal, wide enough that table rows (and the causes in
    them) stay on one line for logs and pipes."""
    console = Console(file=stream)
    if console.is_terminal:
        return console
    return Console(file=stream, width=PIPE_WIDTH)


def print_report(console: Console, report: ValidationReport) -> None:
    console.print(
        f"web apps in Qualys: {report.webapps_qualys}, active assets stored: "
        f"{report.assets_active}; web apps compared: {report.webapps_checked}"
    )
    if report.ok:
        console.print("counts match")
    else:
        table = Table(title=f"{len(report.mismatches)} mismatch(es)")
        for column in ("scope", "name", "Qualys", "stored", "likely cause"):
            table.add_column(column, justify="right" if column in ("Qualys", "stored") else "left")
        for m in report.mismatches:
            table.add_row(m.scope, m.name or "", str(m.qualys), str(m.stored), m.cause)
        console.print(table)
    for note in report.notes:
        console.print(f"note: {note}")
