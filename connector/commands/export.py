"""`connector export {assets,findings,weaknesses}`: stream stored records to stdout or a file."""

from __future__ import annotations

import argparse
from contextlib import ExitStack, closing
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

from connector import exports
from connector.commands.context import CommandContext
from connector.errors import ExitCode
from connector.exports.output import whole_file
from connector.models import FindingStatus, Severity
from connector.store.database import open_existing
from connector.store.queries import ExportFilter, iter_assets, iter_findings, iter_weaknesses

QUERIES = {"assets": iter_assets, "findings": iter_findings, "weaknesses": iter_weaknesses}
STDOUT = "-"


def register(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "Print stored records, or write them to a file. Findings of archived assets "
        "(and archived assets) are left out unless --include-archived. CSV cells that start "
        "with = + - @ get a leading quote so spreadsheets do not run them. `--format "
        "defectdojo` writes a DefectDojo Generic Findings Import file; `--format ocsf` one OCSF "
        "Vulnerability Finding event per line. Reads the database only: it never creates one."
    )
    parser.add_argument("kind", type=str.lower, choices=sorted(QUERIES), help="what to export")
    parser.add_argument(
        "--format",
        type=str.lower,
        choices=exports.FORMATS,
        default="jsonl",
        help="jsonl (default), csv, json; for findings also defectdojo or ocsf",
    )
    parser.add_argument(
        "--output",
        "-o",
        metavar="FILE",
        help="write to FILE (it appears only once complete); `-` or nothing: standard output",
    )
    parser.add_argument(
        "--plain-text",
        action="store_true",
        help="description, impact and solution as plain text instead of the Knowledge Base's HTML",
    )
    parser.add_argument(
        "--status",
        action="append",
        type=_status,
        help="only findings with this status: Active or Fixed (repeatable)",
    )
    parser.add_argument(
        "--severity",
        action="append",
        type=_severity,
        help="only findings (or weaknesses' open findings) with this severity (repeatable)",
    )
    parser.add_argument("--asset", help="only this web application (its Qualys id or name)")
    parser.add_argument(
        "--since",
        type=_since,
        help="findings last seen / assets last observed on or after this date (YYYY-MM-DD)",
    )
    parser.add_argument(
        "--include-archived", action="store_true", help="include archived assets and their findings"
    )
    parser.set_defaults(handler=handle)


def _choice(text: str, choices: list[str], what: str) -> str:
    for choice in choices:
        if choice.lower() == text.strip().lower():
            return choice
    raise argparse.ArgumentTypeError(f"unknown {what} {text!r} (choose from {', '.join(choices)})")


def _severity(text: str) -> str:
    return _choice(text, [s.value for s in Severity], "severity")


def _status(text: str) -> str:
    return _choice(text, [s.value for s in FindingStatus], "status")


def _since(text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date like 2024-01-31") from exc
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def handle(args: argparse.Namespace, ctx: CommandContext) -> int:
    if args.format in exports.FINDINGS_ONLY and args.kind != "findings":
        print(
            f"error: --format {args.format} exports findings only: "
            f"`connector export findings --format {args.format}`",
            file=ctx.stderr,
        )
        return int(ExitCode.CONFIG)
    config = ctx.config(qualys=False)
    where = ExportFilter(
        statuses=tuple(args.status or ()),
        severities=tuple(args.severity or ()),
        asset=args.asset,
        since=args.since,
        include_archived=args.include_archived,
    )
    to_file = args.output not in (None, STDOUT)
    engine = open_existing(config.database_url)
    try:
        with ExitStack() as stack:
            out: TextIO = ctx.stdout
            if to_file:
                out = stack.enter_context(whole_file(Path(args.output)))
            conn = stack.enter_context(engine.connect())
            rows = stack.enter_context(
                closing(QUERIES[args.kind](conn, config.connector_name, where))
            )
            count = exports.write(args.kind, rows, args.format, out, plain_text=args.plain_text)
    finally:
        engine.dispose()
    if to_file:
        print(f"wrote {count} {args.kind} to {args.output}", file=ctx.stderr)
    return 0
