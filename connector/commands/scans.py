"""`connector scans list`: the scan files imported so far, newest first."""

from __future__ import annotations

import argparse
from typing import Any

from connector.commands.context import CommandContext
from connector.store import imports as store_imports
from connector.store.database import create_engine_for, ensure_schema


def register(sub: Any) -> None:
    parser = sub.add_parser(
        "scans",
        help="list the imported scan files",
        description="The imported scan files, newest first: when, file, report date, web "
        "application, mapping and what the import did.",
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    listing = actions.add_parser("list", help="list the imported scan files, newest first")
    listing.add_argument("--limit", type=int, default=50, help="at most this many (default 50)")
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace, ctx: CommandContext) -> int:
    config = ctx.config(qualys=False)
    engine = create_engine_for(config.database_url)
    try:
        ensure_schema(engine)
        with engine.connect() as conn:
            scans = store_imports.list_imported_scans(conn, config.connector_name, limit=args.limit)
    finally:
        engine.dispose()
    if not scans:
        print("no scan files imported yet", file=ctx.stdout)
        return 0
    print(
        "id  imported          report date       file | asset | mapping | counts", file=ctx.stdout
    )
    for scan in scans:
        c = scan.counts
        report_date = scan.report_date.strftime("%Y-%m-%d %H:%M") if scan.report_date else "-"
        print(
            f"{scan.id:<3} {scan.imported_at:%Y-%m-%d %H:%M}  {report_date:<16}  "
            f"{scan.file_name} | {scan.asset_key or '-'} | {scan.mapping} | "
            f"{c.get('created', 0)} created, {c.get('updated', 0)} updated, "
            f"{c.get('unchanged', 0)} unchanged, {c.get('fixed', 0)} fixed, "
            f"{c.get('skipped', 0)} skipped",
            file=ctx.stdout,
        )
    return 0
