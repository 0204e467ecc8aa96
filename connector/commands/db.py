"""`connector db upgrade` and `connector db current`: the database schema revision."""

from __future__ import annotations

import argparse

from connector.commands.context import CommandContext
from connector.errors import ExitCode
from connector.store.database import create_engine_for, redact, schema_status, upgrade

_STATE_TEXT = {
    "empty": "empty database: run `connector db upgrade` (sync and serve also do it themselves)",
    "behind": "older than this connector: run `connector db upgrade`",
    "current": "up to date",
    "ahead": "newer than this connector: upgrade the connector",
    "unknown": "connector tables but no recorded revision: not created by `connector db upgrade`",
}


def register(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "Manage the schema of the database named by database.url " "(or $CONNECTOR_DATABASE_URL)."
    )
    db_sub = parser.add_subparsers(dest="db_command", metavar="ACTION", required=True)
    up = db_sub.add_parser(
        "upgrade",
        help="migrate the database schema to this connector's version",
        description="Apply every pending schema migration in one transaction; a database "
        "already at this connector's version is left alone. Refuses a database migrated by a newer "
        f"connector (exit {int(ExitCode.FAILED)}).",
    )
    up.set_defaults(handler=handle_upgrade)
    current = db_sub.add_parser(
        "current",
        help="show the database's schema revision and whether it is up to date",
        description="Print the schema revision the database is at, this connector's newest "
        "revision, and what that means. Exit 0 when up to date, 1 otherwise.",
    )
    current.set_defaults(handler=handle_current)


def handle_upgrade(_args: argparse.Namespace, ctx: CommandContext) -> int:
    url = ctx.config(qualys=False).database_url
    engine = create_engine_for(url)
    try:
        before = schema_status(engine)
        if before.state == "current":
            print(f"{redact(url)}: already at {before.head}", file=ctx.stdout)
            return int(ExitCode.OK)
        upgrade(engine)  # refuses (SchemaMismatchError) an "ahead" or "unknown" database
        after = schema_status(engine)
    finally:
        engine.dispose()
    print(
        f"{redact(url)}: upgraded {before.current or '(empty)'} -> {after.current}",
        file=ctx.stdout,
    )
    return int(ExitCode.OK)


def handle_current(_args: argparse.Namespace, ctx: CommandContext) -> int:
    url = ctx.config(qualys=False).database_url
    engine = create_engine_for(url)
    try:
        status = schema_status(engine)
    finally:
        engine.dispose()
    print(f"database: {redact(url)}", file=ctx.stdout)
    print(f"revision: {status.current or '(none)'}", file=ctx.stdout)
    print(f"head:     {status.head}", file=ctx.stdout)
    print(f"state:    {status.state} ({_STATE_TEXT[status.state]})", file=ctx.stdout)
    return int(ExitCode.OK if status.state == "current" else ExitCode.FAILED)
