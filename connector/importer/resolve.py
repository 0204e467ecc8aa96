"""Which mapping reads a file (named, saved, or the built-in one for its format), and whether the
file's headers fit it: the checks an import makes before it reads any row."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy.engine import Connection

from connector.errors import ImportFileError
from connector.importer import flatcsv
from connector.importer.detect import Detected
from connector.importer.mapping import (
    BUILTIN_FOR_FORMAT,
    BUILTIN_MAPPINGS,
    FIELDS,
    ImportMapping,
    missing_required,
    resolve_columns,
)
from connector.importer.printable import printable
from connector.importer.report import ReportFacts
from connector.store import imports as store_imports


def resolve_mapping(
    conn: Connection, connector: str, name: str | None, detected: Detected, path: Path
) -> ImportMapping:
    """The mapping named (built-in or saved), else the built-in one for the detected format."""
    if name is None:
        builtin = BUILTIN_FOR_FORMAT.get(detected.format)
        if builtin is None:
            header = flatcsv.read_header(path, encoding=detected.encoding)
            raise ImportFileError(
                f"{path}: not a Qualys WAS report (expected a CSV whose first row is "
                f"'Scan Report,<date>' or an XML <WAS_SCAN_REPORT>/<WAS_WEBAPP_REPORT>) and no "
                f"--mapping given. Its columns: {printable(', '.join(header)) or '(none)'}. "
                "Create a "
                "mapping for it: connector mappings create NAME --column title=COLUMN --column "
                "url=COLUMN (or host=COLUMN) [--column source_id=... --column port=... --column "
                "severity=... --severity VALUE=LABEL], then import with --mapping NAME"
            )
        return BUILTIN_MAPPINGS[builtin]
    mapping = BUILTIN_MAPPINGS.get(name)
    if mapping is None:
        stored = store_imports.load_mapping(conn, connector, name)
        if stored is None:
            known = sorted(
                [*BUILTIN_MAPPINGS, *(m.name for m in store_imports.list_mappings(conn, connector))]
            )
            raise ImportFileError(
                f"no import mapping named {name!r} (known: {', '.join(known)}): "
                "see `connector mappings list`"
            )
        mapping = ImportMapping.from_json(stored.name, stored.definition)
    if mapping.format is not detected.format:
        raise ImportFileError(
            f"{path}: mapping {mapping.name!r} is for {mapping.format.value} files but this "
            f"file is {detected.format.value}: pick a mapping of that format"
        )
    return mapping


def check_flat_header(path: Path, mapping: ImportMapping, header: tuple[str, ...]) -> None:
    problems = missing_required(mapping, header)
    if problems:
        raise ImportFileError(
            f"{path}: line 1: mapping {mapping.name!r} needs a column for "
            f"{printable('; '.join(problems))}, which the file lacks. The file's columns: "
            f"{printable(', '.join(header))}: fix the mapping (connector mappings create ...) "
            "or the file"
        )


def check_was_headers(path: Path, mapping: ImportMapping, facts: ReportFacts) -> None:
    qid_column = mapping.columns.get("source_id")
    if qid_column is None:
        raise ImportFileError(
            f"mapping {mapping.name!r} maps no source_id (QID) column: a WAS report joins its "
            "results to the glossary by QID"
        )
    for table, header in facts.tables.items():
        if not resolve_columns(
            dataclasses.replace(mapping, columns={"source_id": qid_column}), header
        ):
            raise ImportFileError(
                f"{path}: the {table} results have no {qid_column!r} column "
                f"(they have: {printable(', '.join(header[1:]))}): the file does not look "
                "like a WAS scan report export"
            )


def iter_field_help() -> Iterator[str]:
    """`field: what it feeds`, for the CLI's help."""
    for name, text in FIELDS.items():
        yield f"{name}: {text}"
