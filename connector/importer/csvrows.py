"""CSV records over streamed text lines, each with the line it starts on; csv errors translated."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import dataclass

from connector.errors import ImportFileError
from connector.importer.textlines import TextFile, locate_decode_error

# A cell larger than this is an error, not a memory blow-up (the csv default is 128 KiB, too small
# for real response evidence; unlimited would let one hostile cell take all memory).
MAX_CELL_CHARS = 64 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class CsvRecord:
    line_no: int  # the physical line the record starts on (1-based)
    cells: list[str]


def csv_records(lines: TextFile, *, max_cell_chars: int = MAX_CELL_CHARS) -> Iterator[CsvRecord]:
    """Every non-blank record of the file, in order, without loading the file."""
    if csv.field_size_limit() != max_cell_chars:
        csv.field_size_limit(max_cell_chars)
    try:
        yield from _records(lines, max_cell_chars)
    finally:
        lines.close()


def _records(lines: TextFile, max_cell_chars: int) -> Iterator[CsvRecord]:
    reader = csv.reader(lines.open(), strict=True)
    start = 1
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise ImportFileError(_describe(lines, start, str(exc), max_cell_chars)) from exc
        except UnicodeDecodeError as exc:
            line, offset, reason = locate_decode_error(lines.path, lines.encoding)
            raise ImportFileError(
                f"{lines.path}: line {line}, byte offset {offset}: not valid {lines.encoding} "
                f"({reason}): give the file's encoding with --encoding (e.g. --encoding latin-1)"
            ) from exc
        line_no = start
        start = reader.line_num + 1
        if cells and any(cells):
            yield CsvRecord(line_no, cells)


def _describe(lines: TextFile, start: int, problem: str, max_cell_chars: int) -> str:
    where = f"{lines.path}: line {start}"
    if "unexpected end of data" in problem:
        return (
            f"{where}: the file ends inside a quoted cell: it looks truncated; "
            "export the report again"
        )
    if "field larger than field limit" in problem:
        return (
            f"{where}: a cell is larger than {max_cell_chars} characters: "
            "this importer refuses cells that large; check that the file is a scan report"
        )
    return f"{where}: not valid CSV ({problem}): check that the file is a CSV export"
