"""A flat CSV (a header row, then one finding per row), streamed; read through a user mapping."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from connector.errors import ImportFileError
from connector.importer.csvrows import CsvRecord, csv_records
from connector.importer.report import BadRow, ReportRow
from connector.importer.textlines import Progress, TextFile


class FlatCsv:
    """The file's rows; `header` is known after the first row, `checksum` after the last."""

    def __init__(self, path: Path, *, encoding: str, progress: Progress | None = None) -> None:
        self.path = path
        self._lines = TextFile(path, encoding=encoding, progress=progress)
        self._records = csv_records(self._lines)
        self.header: tuple[str, ...] = self._read_header()

    def _read_header(self) -> tuple[str, ...]:
        first: CsvRecord | None = next(self._records, None)
        if first is None:
            raise ImportFileError(f"{self.path}: the file is empty: nothing to import")
        return tuple(cell.strip() for cell in first.cells)

    @property
    def checksum(self) -> str:
        return self._lines.sha256

    def rows(self) -> Iterator[ReportRow | BadRow]:
        width = len(self.header)
        for record in self._records:
            if len(record.cells) != width:
                yield BadRow(
                    record.line_no,
                    "",
                    f"column {self.header[-1]!r}: the row has {len(record.cells)} cells but "
                    f"the header has {width}: fix the row or re-export the file",
                )
                continue
            yield ReportRow(
                line_no=record.line_no,
                table="",
                cells=dict(zip(self.header, record.cells, strict=True)),
            )


def read_header(path: Path, *, encoding: str) -> tuple[str, ...]:
    """The first row of a CSV file (for format detection and error messages)."""
    return FlatCsv(path, encoding=encoding).header
