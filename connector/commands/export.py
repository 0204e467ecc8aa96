"""`connector export {assets,findings,weaknesses}`: stream stored records as JSONL, CSV or JSON."""

from __future__ import annotations

import argparse
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from connector import exports
from connector.commands.context import CommandContext
from connector.errors import ConnectorError
from connector.models import FindingStatus, Severity
from connector.store.database import create_engine_for, ensure_schema
from connector.store.queries import ExportFilter, iter_assets, iter_findings, iter_weaknesses

QUERIES = {"assets": iter_assets, "findings": iter_findings, "weaknesses": iter_weaknesses}


def register(sub: Any) -> None:
    parser = sub.add_parser(
        "export",
        help="export assets, findings or weaknesses as JSON Lines, CSV or JSON",
        description="Stream stored records. Findings of archived assets (and archived assets) "
        "are left out unless --include-archived. CSV cells that start with = + - @ are "
        "prefixed with a quote so spreadsheets do not run them.",
    )
    parser.add_argument("kind", choices=sorted(QUERIES), help="what to export")
    parser.add_argument("--format", choices=exports.FORMATS, default="jsonl", help="default jsonl")
    parser.add_argument("--output", "-o", metavar="FILE", help="write here instead of stdout")
    parser.add_argument(
        "--status",
        action="append",
        choices=[s.value for s in FindingStatus],
        help="findings with this status (repeatable)",
    )
    parser.add_argument(
        "--severity",
        action="append",
        type=_severity,
        help="findings (or weaknesses' open findings) with this severity (repeatable)",
    )
    parser.add_argument("--asset", help="only this asset (Qualys web app id or name)")
    parser.add_argument(
        "--since",
        type=_since,
        help="findings last seen / assets last observed on or after this date (YYYY-MM-DD)",
    )
    parser.add_argument(
        "--include-archived", action="store_true", help="include archived assets and their findings"
    )
    parser.set_defaults(handler=handle)


def _severity(text: str) -> str:
    for severity in Severity:
        if severity.value.lower() == text.lower():
            return severity.value
    raise argparse.ArgumentTypeError(
        f"unknown severity {text!r} (choose from {', '.join(s.value for s in Severity)})"
    )


def _since(text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date like 2024-01-31") from exc
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def handle(args: argparse.Namespace, ctx: CommandContext) -> int:
    config = ctx.config(qualys=False)
    where = ExportFilter(
        statuses=tuple(args.status or ()),
        severities=tuple(args.severity or ()),
        asset=args.asset,
        since=args.since,
        include_archived=args.include_archived,
    )
    engine = create_engine_for(config.database_url)
    try:
        ensure_schema(engine)
        with ExitStack() as stack:
            out: TextIO = ctx.stdout
            if args.output:
                try:
                    out = stack.enter_context(
                        Path(args.output).open("w", encoding="utf-8", newline="")
                    )
                except OSError as exc:
                    raise ConnectorError(f"cannot write {args.output}: {exc.strerror}") from exc
            conn = stack.enter_context(engine.connect())
            rows = QUERIES[args.kind](conn, config.connector_name, where)
            count = exports.write(args.kind, rows, args.format, out)
    finally:
        engine.dispose()
    if args.output:
        print(f"wrote {count} {args.kind} to {args.output}", file=ctx.stderr)
    return 0
