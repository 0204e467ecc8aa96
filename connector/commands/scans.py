"""`connector scans list|show`: the scan files imported so far, and what one import did."""

from __future__ import annotations

import argparse
import json
from typing import Any

from connector.commands.context import CommandContext
from connector.commands.importing import print_summary
from connector.errors import ImportFileError
from connector.importer.printable import printable
from connector.importer.summary import ImportSummary
from connector.store import imports as store_imports
from connector.store.database import open_existing
from connector.store.imports import ImportedScan


def register(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "The imported scan files, newest first (`list`), and one import's summary "
        "again (`show ID`): counts by type and severity, closed, kept, skipped rows with their "
        "reasons, warnings."
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    listing = actions.add_parser("list", help="list the imported scan files, newest first")
    listing.add_argument("--limit", type=int, default=50, help="at most this many (default 50)")
    listing.add_argument("--json", action="store_true", help="one JSON array instead of a table")
    show = actions.add_parser("show", help="show what one import did (its summary)")
    show.add_argument("id", type=int, help="the import's id (the first column of `scans list`)")
    show.add_argument("--json", action="store_true", help="the summary as one JSON object")
    parser.set_defaults(handler=handle)


def _record(scan: ImportedScan) -> dict[str, Any]:
    summary = ImportSummary.from_json(scan.counts)
    return {
        "id": scan.id,
        "run_id": scan.run_id,
        "imported_at": scan.imported_at.isoformat(),
        "file_name": scan.file_name,
        "checksum": scan.checksum,
        "report_date": scan.report_date.isoformat() if scan.report_date else None,
        "mapping": scan.mapping,
        "asset_keys": [w.asset_key for w in summary.webapps]
        or ([scan.asset_key] if scan.asset_key else []),
        "summary": {**summary.as_json(), "scan_id": scan.id, "run_id": scan.run_id},
    }


def handle(args: argparse.Namespace, ctx: CommandContext) -> int:
    config = ctx.config(qualys=False)
    engine = open_existing(config.database_url)  # reading never creates or migrates a database
    try:
        with engine.connect() as conn:
            if args.action == "show":
                scan = store_imports.get_imported_scan(conn, config.connector_name, args.id)
                if scan is None:
                    raise ImportFileError(
                        f"no import #{args.id}: `connector scans list` shows the imports' ids"
                    )
                scans = [scan]
            else:
                scans = store_imports.list_imported_scans(
                    conn, config.connector_name, limit=args.limit
                )
    finally:
        engine.dispose()
    if args.action == "show":
        return _show(scans[0], args, ctx)
    if args.json:
        print(json.dumps([_record(s) for s in scans], indent=2), file=ctx.stdout)
        return 0
    if not scans:
        print("no scan files imported yet", file=ctx.stdout)
        return 0
    print(
        "id  imported          report date       file | web applications | mapping | counts",
        file=ctx.stdout,
    )
    for scan in scans:
        c = scan.counts
        report_date = scan.report_date.strftime("%Y-%m-%d %H:%M") if scan.report_date else "-"
        apps = ", ".join(w.get("asset_key", "?") for w in c.get("webapps", ())) or (
            scan.asset_key or "-"
        )
        print(
            f"{scan.id:<3} {scan.imported_at:%Y-%m-%d %H:%M}  {report_date:<16}  "
            f"{printable(scan.file_name)} | {printable(apps)} | {printable(scan.mapping)} | "
            f"{c.get('created', 0)} created, {c.get('updated', 0)} updated, "
            f"{c.get('unchanged', 0)} unchanged, {c.get('kept', 0)} kept, "
            f"{c.get('closed', c.get('fixed', 0))} fixed, {c.get('skipped', 0)} skipped",
            file=ctx.stdout,
        )
    return 0


def _show(scan: ImportedScan, args: argparse.Namespace, ctx: CommandContext) -> int:
    if args.json:
        print(json.dumps(_record(scan), indent=2), file=ctx.stdout)
        return 0
    summary = ImportSummary.from_json(scan.counts)
    print(f"import #{scan.id} (run {scan.run_id}) at {scan.imported_at:%Y-%m-%d %H:%M UTC}",
          file=ctx.stdout)  # fmt: skip
    print_summary(summary, ctx.stdout, title="imported")
    return 0
