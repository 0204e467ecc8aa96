"""`connector import FILE`: import a Qualys WAS report (CSV or XML) or a mapped flat CSV."""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import socket
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO, TextIO

from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TransferSpeedColumn

from connector.commands.context import CommandContext
from connector.errors import ImportFileError
from connector.importer.importer import ImportOptions, import_file
from connector.importer.printable import printable
from connector.importer.summary import ImportSummary
from connector.importer.textlines import check_encoding
from connector.store.database import create_engine_for, ensure_schema

log = logging.getLogger(__name__)
PhaseFn = Callable[[str, int], None]
SKIPPED_SHOWN = 20
STDIN = "-"
SPOOL_CHUNK = 1 << 20
PROGRESS_MIN_BYTES = 10 * 1024 * 1024  # smaller files import in a moment: no bar, no log lines


def register(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "Import one scan file in one transaction: a file that fails half-way "
        "changes nothing. WAS reports (Scan Reports and Web Application Reports, CSV or XML, "
        "any layout) need no flags. Findings are matched on their Detection ID, the id the "
        "API sync uses, so reports and syncs meet on the same rows; the newer information "
        "wins. Findings that earlier imports of the same web application created and this "
        "report (at least as new) no longer contains become Fixed as of the report's date, "
        "unless --no-close. Other CSV files need --mapping (see `connector mappings --help`). "
        "Importing the same file twice writes nothing the second time."
    )
    parser.add_argument(
        "file", type=Path, help="the report file (.csv or .xml); `-` reads standard input"
    )
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
        default=None,
        type=_encoding,
        help="the file's text encoding (default: from its byte-order mark, else UTF-8; "
        "e.g. latin-1, utf-16)",
    )
    parser.add_argument(
        "--no-progress", action="store_true", help="no progress bar or progress log lines"
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
    console = Console(file=ctx.stdout)
    with ExitStack() as stack:
        path = args.file
        if str(path) == STDIN:
            path = stack.enter_context(spooled_stdin(ctx.stdin or _process_stdin()))
        engine = create_engine_for(config.database_url)
        stack.callback(engine.dispose)
        ensure_schema(engine)
        progress = stack.enter_context(_progress(path, console, enabled=not args.no_progress))
        options = ImportOptions(
            mapping_name=args.mapping,
            asset_name=args.asset_name,
            asset_url=args.asset_url,
            close_absent=not args.no_close,
            skip_bad_rows=args.skip_bad_rows,
            encoding=args.encoding,
            progress=progress,
        )
        summary = import_file(
            engine,
            config,
            path,
            options,
            now=datetime.now(UTC),
            host=socket.gethostname(),
            pid=os.getpid(),
        )
    print_summary(summary, ctx.stdout)
    return 0


def _process_stdin() -> BinaryIO:
    if sys.stdin is None:
        raise ImportFileError("`connector import -` reads standard input, but there is none")
    return sys.stdin.buffer


@contextmanager
def spooled_stdin(stdin: BinaryIO) -> Iterator[Path]:
    """Standard input copied to a temporary file named `stdin` (the importer reads a file twice:
    once to check it, once to import it); removed afterwards."""
    with tempfile.TemporaryDirectory(prefix="connector-import-") as directory:
        path = Path(directory) / "stdin"
        try:
            with path.open("wb") as spool:
                shutil.copyfileobj(stdin, spool, SPOOL_CHUNK)
        except OSError as exc:
            raise ImportFileError(
                f"cannot keep standard input in {directory}: {exc.strerror or exc}"
            ) from exc
        yield path


PHASES = ("checking", "importing")  # pass 1 reads the whole file, pass 2 imports it


@contextmanager
def _progress(path: Path, console: Console, *, enabled: bool) -> Iterator[PhaseFn | None]:
    """Bars of bytes read per pass on a terminal, else a log line per tenth of each pass;
    nothing for small files."""
    try:
        total = path.stat().st_size
    except OSError:
        total = 0
    if not enabled or total < PROGRESS_MIN_BYTES:
        yield None
        return
    if console.is_terminal:
        columns = (
            TextColumn("{task.description:>9}"),
            BarColumn(),
            DownloadColumn(),
            TransferSpeedColumn(),
        )
        with Progress(*columns, console=console, transient=True) as bars:
            tasks = {phase: bars.add_task(phase, total=total) for phase in PHASES}
            yield lambda phase, done: bars.update(tasks[phase], completed=done)
        return
    next_at = dict.fromkeys(PHASES, total // 10)

    def log_line(phase: str, done: int) -> None:
        if done >= next_at[phase]:
            log.info("import: %s %s: %d%% read", phase, path.name, 100 * done // total)
            next_at[phase] = done + total // 10

    yield log_line


def _date(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC") if value else "unknown"


def print_summary(summary: ImportSummary, out: TextIO, *, title: str = "imported") -> None:
    """The summary a person reads after an import (and `scans show`); file text escaped."""
    print(
        f"{title} {printable(summary.file_name)} ({summary.format}, {printable(summary.kind)}, "
        f"mapping {printable(summary.mapping)})",
        file=out,
    )
    for app in summary.webapps:
        where = "the API's web application" if app.from_api else "asset"
        print(
            f"  web application: {printable(app.name) or '-'} <{printable(app.url) or '-'}> "
            f"({where} {printable(app.asset_key)})",
            file=out,
        )
    print(f"  report date:     {_date(summary.report_date)}", file=out)
    if summary.layouts:
        print(f"  read from:       {', '.join(summary.layouts)}", file=out)
    print(f"  findings keyed:  on {summary.identity}", file=out)
    types = ", ".join(f"{t} {n}" for t, n in sorted(summary.by_type.items())) or "none"
    print(f"  rows read:       {summary.rows} ({summary.findings} findings: {types})", file=out)
    if summary.by_severity:
        order = ["Critical", "High", "Medium", "Low", "None"]
        severities = ", ".join(
            f"{s} {summary.by_severity[s]}" for s in order if s in summary.by_severity
        )
        print(f"  by severity:     {severities}", file=out)
    if summary.consolidated_rows:
        print(
            f"  consolidated:    {summary.consolidated_rows} rows merged into existing findings "
            "(same finding, more ports)",
            file=out,
        )
    print(
        f"  findings:        {summary.created} created, {summary.updated} updated, "
        f"{summary.unchanged} unchanged, {summary.kept} kept, {summary.closed} marked Fixed",
        file=out,
    )
    if summary.kept:
        print(
            f"  kept:            {summary.kept} findings the store knows from newer information "
            "(an API sync or a newer report): left as they are",
            file=out,
        )
    if summary.glossary_entries:
        print(
            f"  glossary:        {summary.glossary_entries} entries, {summary.weaknesses_written} "
            "written as weaknesses (the KB's newer entries kept)",
            file=out,
        )
    if summary.previous_import_id is not None:
        print(
            f"  note: this file was imported before ({_date(summary.previous_imported_at)}, "
            f"import #{summary.previous_import_id})"
            + ("" if summary.wrote_findings else ": nothing changed"),
            file=out,
        )
    if summary.closing:
        print(f"  closing:         {printable(summary.closing)}", file=out)
    for warning in summary.warnings:
        print(f"  warning: {printable(warning)}", file=out)
    print(f"  rows skipped:    {summary.skipped}", file=out)
    for line in summary.skipped_rows[:SKIPPED_SHOWN]:
        print(f"    {printable(line)}", file=out)
    if summary.skipped > SKIPPED_SHOWN:
        print(f"    ... and {summary.skipped - SKIPPED_SHOWN} more", file=out)
