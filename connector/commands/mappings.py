"""`connector mappings list|show|create|delete`: the saved import mappings (plus the built-ins)."""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime
from pathlib import Path

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
from connector.mapping import format_datetime
from connector.store import imports as store_imports
from connector.store.database import create_engine_for, ensure_schema, open_existing
from connector.store.imports import StoredMapping

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


def register(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "An import mapping says which file column feeds which field and which file "
        "value means which severity. Built-in mappings (qualys-was-csv, qualys-was-xml) always "
        "exist and cannot be deleted."
    )
    parser.epilog = TOML_EXAMPLE
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    listing = actions.add_parser("list", help="list the built-in and saved mappings")
    listing.add_argument("--json", action="store_true", help="print the list as JSON")
    show = actions.add_parser("show", help="show one mapping as JSON")
    show.add_argument("name", help="the mapping's name")
    create = actions.add_parser(
        "create",
        help="create or replace a mapping, or change a saved mapping's severity values",
        description="With --from-file or --column flags, (re)defines the mapping; --severity "
        "flags given with them add to or override its severity values. --severity alone "
        "changes the severity values of the saved mapping NAME and keeps its columns.",
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
        type=str.lower,
        choices=[f.value for f in ImportFormat],
        help="the file format the mapping reads (default: the file's or saved mapping's format, "
        "else flat_csv)",
    )
    delete = actions.add_parser("delete", help="delete a saved mapping")
    delete.add_argument("name", help="the mapping's name")
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace, ctx: CommandContext) -> int:
    config = ctx.config(qualys=False)
    if args.action in ("list", "show"):
        return _read(args, ctx, config.database_url, config.connector_name)
    connector = config.connector_name
    if args.name in BUILTIN_MAPPINGS:
        raise ImportFileError(
            f"{args.name!r} is a built-in mapping and cannot be {args.action}d: "
            "choose another name"
        )
    engine = create_engine_for(config.database_url)
    try:
        ensure_schema(engine)
        with engine.begin() as conn:
            if args.action == "delete":
                if not store_imports.delete_mapping(conn, connector, args.name):
                    raise ImportFileError(_unknown(args.name))
                print(f"deleted mapping {args.name}", file=ctx.stdout)
                return 0
            saved = store_imports.load_mapping(conn, connector, args.name)
            mapping = _build(args, saved)
            created = store_imports.save_mapping(
                conn, connector, mapping.name, mapping.to_json(), now=datetime.now(UTC)
            )
    finally:
        engine.dispose()
    verb = "created" if created else "replaced"
    if saved is not None and not (args.from_file or args.column):
        verb = "updated the severity values of"
    print(f"{verb} mapping {mapping.name} ({mapping.format.value})", file=ctx.stdout)
    return 0


def _read(args: argparse.Namespace, ctx: CommandContext, url: str, connector: str) -> int:
    """`list` and `show`: read the saved mappings; never create or migrate a database."""
    if args.action == "show" and args.name in BUILTIN_MAPPINGS:
        return _show(ctx, BUILTIN_MAPPINGS[args.name])
    engine = open_existing(url)
    try:
        with engine.connect() as conn:
            if args.action == "show":
                stored = store_imports.load_mapping(conn, connector, args.name)
                if stored is None:
                    raise ImportFileError(_unknown(args.name))
                return _show(ctx, ImportMapping.from_json(stored.name, stored.definition))
            saved = store_imports.list_mappings(conn, connector)
    finally:
        engine.dispose()
    rows = [
        {"name": m.name, "format": m.format.value, "builtin": True, "updated_at": None}
        for m in BUILTIN_MAPPINGS.values()
    ] + [
        {
            "name": m.name,
            "format": str(m.definition.get("format", "?")),
            "builtin": False,
            "updated_at": format_datetime(m.updated_at),
        }
        for m in saved
    ]
    if args.json:
        print(json.dumps(rows, indent=2), file=ctx.stdout)
        return 0
    for row in rows:
        kind = "built-in" if row["builtin"] else f"saved {row['updated_at']}"
        print(f"{row['name']:<24} {row['format']:<16} {kind}", file=ctx.stdout)
    return 0


def _show(ctx: CommandContext, mapping: ImportMapping) -> int:
    body = {"name": mapping.name, "builtin": mapping.builtin, **mapping.to_json()}
    print(json.dumps(body, indent=2), file=ctx.stdout)
    return 0


def _build(args: argparse.Namespace, saved: StoredMapping | None) -> ImportMapping:
    """The mapping the flags describe: from a file or --column flags (plus any --severity), or
    the saved mapping with --severity values changed."""
    base: ImportMapping | None = None
    if args.from_file is not None:
        if args.column:
            raise ImportFileError("give either --from-file or --column flags, not both")
        try:
            text = args.from_file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ImportFileError(f"cannot read mapping file {args.from_file}: {exc}") from exc
        base = mapping_from_toml(args.name, text, source=str(args.from_file))
    elif not args.column and args.severity and saved is not None:
        base = ImportMapping.from_json(saved.name, saved.definition)
    if base is not None:
        return _with_flags(base, args.format, args.severity)
    fmt = args.format or ImportFormat.FLAT_CSV.value
    if not args.column and not (fmt != ImportFormat.FLAT_CSV.value and args.severity):
        what = (
            f"nothing to change in mapping {args.name!r}: give --severity VALUE=LABEL, or"
            if saved is not None
            else f"no saved mapping {args.name!r} to change: define it with"
        )
        raise ImportFileError(
            f"{what} --from-file TOML or --column FIELD=COLUMN flags "
            "(see `connector mappings create --help`)"
        )
    return mapping_from_flags(
        args.name, format_name=fmt, columns=args.column, severities=args.severity
    )


def _with_flags(base: ImportMapping, fmt: str | None, severities: list[str]) -> ImportMapping:
    """`base` with the --severity flags added (a value already there gets the new label)."""
    return mapping_from_flags(
        base.name,
        format_name=fmt or base.format.value,
        columns=[f"{field}={column}" for field, column in base.columns.items()],
        severities=[f"{v}={label.value}" for v, label in base.severity_values.items()] + severities,
    )


def _unknown(name: str) -> str:
    return f"no import mapping named {name!r}: see `connector mappings list`"
