"""`connector mappings list|show|create|delete`: the saved import mappings (plus the built-ins)."""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from connector.commands.context import CommandContext
from connector.errors import ImportFileError
from connector.importer.mapping import (
    BUILTIN_MAPPINGS,
    FIELDS,
    ImportFormat,
    ImportMapping,
    mapping_from_flags,
    mapping_from_toml,
)
from connector.store import imports as store_imports
from connector.store.database import create_engine_for, ensure_schema

TOML_EXAMPLE = """mapping file (TOML):
  format = "flat_csv"
  [columns]
  title = "Name"
  url = "URL"          # or: host = "Host"
  source_id = "QID"
  port = "Port"
  severity = "Severity"
  [severity]
  "1" = "Low"
  "Urgent" = "Critical"

fields:
""" + "\n".join(f"  {name:<17} {text}" for name, text in FIELDS.items())


def register(sub: Any) -> None:
    parser = sub.add_parser(
        "mappings",
        help="list, show, create or delete import mappings",
        description="An import mapping says which file column feeds which field and which file "
        "value means which severity. Built-in mappings (qualys-was-csv, qualys-was-xml) always "
        "exist and cannot be deleted.",
        epilog=TOML_EXAMPLE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    actions.add_parser("list", help="list the built-in and saved mappings")
    show = actions.add_parser("show", help="show one mapping as JSON")
    show.add_argument("name", help="the mapping's name")
    create = actions.add_parser(
        "create",
        help="create (or replace) a mapping from a TOML file or from flags",
        epilog=TOML_EXAMPLE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    create.add_argument("name", help="the mapping's name")
    create.add_argument("--from-file", type=Path, metavar="TOML", help="a mapping file")
    create.add_argument(
        "--column",
        action="append",
        default=[],
        metavar="FIELD=COLUMN",
        help="map a field to a file column (repeatable)",
    )
    create.add_argument(
        "--severity",
        action="append",
        default=[],
        metavar="VALUE=LABEL",
        help="a file severity value and its label: None, Low, Medium, High, Critical (repeatable)",
    )
    create.add_argument(
        "--format",
        choices=[f.value for f in ImportFormat],
        default=ImportFormat.FLAT_CSV.value,
        help="the file format the mapping reads (default flat_csv)",
    )
    delete = actions.add_parser("delete", help="delete a saved mapping")
    delete.add_argument("name", help="the mapping's name")
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace, ctx: CommandContext) -> int:
    config = ctx.config(qualys=False)
    connector = config.connector_name
    engine = create_engine_for(config.database_url)
    try:
        ensure_schema(engine)
        with engine.begin() as conn:
            if args.action == "list":
                for mapping in BUILTIN_MAPPINGS.values():
                    print(
                        f"{mapping.name:<24} {mapping.format.value:<16} built-in", file=ctx.stdout
                    )
                for saved in store_imports.list_mappings(conn, connector):
                    fmt = saved.definition.get("format", "?")
                    updated = saved.updated_at.strftime("%Y-%m-%d %H:%M UTC")
                    print(f"{saved.name:<24} {fmt:<16} saved {updated}", file=ctx.stdout)
                return 0
            if args.action == "show":
                shown = BUILTIN_MAPPINGS.get(args.name)
                if shown is None:
                    stored = store_imports.load_mapping(conn, connector, args.name)
                    if stored is None:
                        raise ImportFileError(_unknown(args.name))
                    shown = ImportMapping.from_json(stored.name, stored.definition)
                body = {"name": shown.name, "builtin": shown.builtin, **shown.to_json()}
                print(json.dumps(body, indent=2), file=ctx.stdout)
                return 0
            if args.name in BUILTIN_MAPPINGS:
                raise ImportFileError(
                    f"{args.name!r} is a built-in mapping and cannot be {args.action}d: "
                    "choose another name"
                )
            if args.action == "delete":
                if not store_imports.delete_mapping(conn, connector, args.name):
                    raise ImportFileError(_unknown(args.name))
                print(f"deleted mapping {args.name}", file=ctx.stdout)
                return 0
            mapping = _build(args)
            created = store_imports.save_mapping(
                conn, connector, mapping.name, mapping.to_json(), now=datetime.now(UTC)
            )
            verb = "created" if created else "replaced"
            print(f"{verb} mapping {mapping.name} ({mapping.format.value})", file=ctx.stdout)
            return 0
    finally:
        engine.dispose()


def _build(args: argparse.Namespace) -> ImportMapping:
    if args.from_file is not None:
        if args.column or args.severity:
            raise ImportFileError("give either --from-file or --column/--severity flags, not both")
        try:
            text = args.from_file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ImportFileError(f"cannot read mapping file {args.from_file}: {exc}") from exc
        return mapping_from_toml(args.name, text, source=str(args.from_file))
    if not args.column and not (args.format != ImportFormat.FLAT_CSV.value and args.severity):
        raise ImportFileError(
            "a mapping needs --from-file TOML or --column FIELD=COLUMN flags "
            "(see `connector mappings create --help`)"
        )
    return mapping_from_flags(
        args.name, format_name=args.format, columns=args.column, severities=args.severity
    )


def _unknown(name: str) -> str:
    return f"no import mapping named {name!r}: see `connector mappings list`"
