"""What the import steps show about an uploaded file before anything is imported: its format,
its columns (to map fields to), and the values its severity column takes (to map to labels).
Reads the file with the importer's own readers; writes nothing."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from connector.importer import csvreport, flatcsv, xmlreport
from connector.importer.detect import detect
from connector.importer.mapping import BUILTIN_FOR_FORMAT, BUILTIN_MAPPINGS, ImportFormat
from connector.importer.report import ReportFacts, ReportRow

MAX_VALUES = 100  # distinct severity values listed (a column of free text is not a severity)


@dataclass(frozen=True)
class FilePreview:
    format: ImportFormat
    columns: tuple[str, ...]


def preview(path: Path) -> FilePreview:
    """The format and the columns a mapping can name (raises ImportFileError on a bad file)."""
    detected = detect(path, encoding=None)
    fmt = detected.format
    if fmt is ImportFormat.FLAT_CSV:
        return FilePreview(fmt, flatcsv.read_header(path, encoding=detected.encoding))
    info = _was_facts(path, fmt, detected.encoding)
    columns: list[str] = []
    for header in (*info.tables.values(), info.glossary_header):
        columns.extend(c for c in header if c and c not in columns)
    if not columns:  # an XML report names no header row: offer the built-in mapping's columns
        columns = list(BUILTIN_MAPPINGS[BUILTIN_FOR_FORMAT[fmt]].columns.values())
    return FilePreview(fmt, tuple(columns))


def severity_values(path: Path, fmt: ImportFormat, column: str) -> list[str]:
    """The distinct values of `column` in the file (a WAS report: in its glossary), in order."""
    wanted = column.strip().casefold()
    found: dict[str, None] = {}
    encoding = detect(path, encoding=None).encoding
    if fmt is ImportFormat.FLAT_CSV:
        table = flatcsv.FlatCsv(path, encoding=encoding)
        name = next((h for h in table.header if h.strip().casefold() == wanted), None)
        if name is None:
            return []
        for row in table.rows():
            value = row.cells.get(name, "").strip() if isinstance(row, ReportRow) else ""
            if value:
                found.setdefault(value, None)
                if len(found) >= MAX_VALUES:
                    break
        return list(found)
    info = _was_facts(path, fmt, encoding)
    for cells in info.glossary.values():
        for key, value in cells.items():
            if key.casefold() == wanted and value.strip():
                found.setdefault(value.strip(), None)
    return sorted(found, key=lambda v: (not v.isdigit(), v))[:MAX_VALUES]


def _was_facts(path: Path, fmt: ImportFormat, encoding: str) -> ReportFacts:
    if fmt is ImportFormat.QUALYS_WAS_CSV:
        return csvreport.read_facts(path, encoding=encoding)
    return xmlreport.read_facts(path, encoding=None)
