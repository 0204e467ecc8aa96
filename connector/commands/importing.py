"""`connector import FILE`: import a Qualys WAS scan report (CSV or XML) or a mapped flat CSV."""

from __future__ import annotations

import argparse
import os
import socket
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from connector.commands.context import CommandContext
from connector.errors import ImportFileError
from connector.importer.importer import ImportOptions, ImportReport, import_file
from connector.importer.textlines import DEFAULT_ENCODING, check_encoding
from connector.store.database import create_engine_for, ensure_schema

SKIPPED_SHOWN = 20


def register(sub: Any) -> None:
    parser = sub.add_parser(
        "import",
        help="import a Qualys WAS scan report (CSV or XML) or a flat CSV through a mapping",
        description="Import one scan file in one transaction: a file that fails half-way "
        "changes nothing. WAS reports need no flags (built-in mappings); other CSV files need "
        "--mapping (see `connector mappings`). Findings that an earlier import of the same web "
        "application created and this report no longer contains become Fixed, unless "
        "--no-close. Importing the same file twice changes nothing the second time.",
    )
    parser.add_argument("file", type=Path, help="the report file (.csv or .xml)")
    parser.add_argument("--mapping", metavar="NAME", help="a saved or built-in mapping")
    parser.add_argument(
        "--asset-name", metavar="NAME", help="the web application's name (when the file lacks it)"
    )
    parser.add_argument(
        "--asset-url", metavar="URL", help="the web application's URL (when the file lacks it)"
    )
    parser.add_argument(
        "--no-close",
        action="store_true",
        help="do not mark findings absent from this report as Fixed",
    )
    parser.add_argument(
        "--skip-bad-rows",
        action="store_true",
        help="import the rows that map and list the others, instead of failing",
    )
    parser.add_argument(
        "--encoding",
        default=DEFAULT_ENCODING,
        type=_encoding,
        help=f"the file's text encoding (default {DEFAULT_ENCODING}; e.g. latin-1)",
    )
    parser.set_defaults(handler=handle)


def _encoding(text: str) -> str:
    try:
        check_encoding(text)
    except ImportFileError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc
    return text


def handle(args: argparse.Namespace, ctx: CommandContext) -> int:
    config = ctx.config(qualys=False)
    options = ImportOptions(
        mapping_name=args.mapping,
        asset_name=args.asset_name,
        asset_url=args.asset_url,
        close_absent=not args.no_close,
        skip_bad_rows=args.skip_bad_rows,
        encoding=args.encoding,
    )
    engine = create_engine_for(config.database_url)
    try:
        ensure_schema(engine)
        report = import_file(
            engine,
            config,
            args.file,
            options,
            now=datetime.now(UTC),
            host=socket.gethostname(),
            pid=os.getpid(),
        )
    finally:
        engine.dispose()
    print_summary(report, ctx.stdout)
    return 0


def print_summary(report: ImportReport, out: TextIO) -> None:
    """The summary a person reads after an import."""
    date = report.report_date.strftime("%Y-%m-%d %H:%M UTC") if report.report_date else "unknown"
    print(
        f"imported {report.file_name} ({report.format.value}, mapping {report.mapping})", file=out
    )
    if report.asset_key:
        print(
            f"  web application: {report.asset_name or '-'} <{report.asset_url or '-'}> "
            f"(asset {report.asset_key})",
            file=out,
        )
    print(f"  report date:     {date}", file=out)
    types = ", ".join(f"{t} {n}" for t, n in sorted(report.by_type.items())) or "none"
    print(f"  rows read:       {report.rows} ({report.findings} findings: {types})", file=out)
    if report.consolidated_rows:
        print(
            f"  consolidated:    {report.consolidated_rows} rows merged into existing findings "
            "(same finding, more ports)",
            file=out,
        )
    print(
        f"  findings:        {report.created} created, {report.updated} updated, "
        f"{report.unchanged} unchanged, {report.closed} marked Fixed",
        file=out,
    )
    if report.kept_from_api:
        print(
            f"  kept:            {report.kept_from_api} findings the API sync already stores "
            "(left as the sync wrote them)",
            file=out,
        )
    if report.previous_import is not None:
        when = report.previous_import.imported_at.strftime("%Y-%m-%d %H:%M UTC")
        print(
            f"  note: this file was imported before ({when}, import "
            f"#{report.previous_import.id})"
            + (
                ": nothing changed"
                if not (report.created or report.updated or report.closed)
                else ""
            ),
            file=out,
        )
    if report.closing_note:
        print(f"  note: {report.closing_note}", file=out)
    for note in report.notes:
        print(f"  note: {note}", file=out)
    print(f"  rows skipped:    {report.skipped_count}", file=out)
    for rejected in report.skipped[:SKIPPED_SHOWN]:
        print(f"    {rejected.ref}: {rejected.reason}", file=out)
    if report.skipped_count > SKIPPED_SHOWN:
        print(f"    ... and {report.skipped_count - SKIPPED_SHOWN} more", file=out)
