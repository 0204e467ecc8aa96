"""Exports: stored rows streamed as JSON Lines, CSV, JSON, DefectDojo or OCSF.

`records` owns the export contract (keys and value shapes), `defectdojo` and `ocsf` map findings
to those tools' documents, `plaintext` turns KB HTML into text, `output` writes a file whole or not
at all. This module picks the writer for a format and streams the rows through it.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any, TextIO

from connector.exports import defectdojo, ocsf
from connector.exports.records import KEYS, csv_cell, shape

__all__ = ["FINDINGS_ONLY", "FORMATS", "KEYS", "csv_cell", "iter_lines", "shape", "write"]

FORMATS = ("jsonl", "csv", "json", "defectdojo", "ocsf")
FINDINGS_ONLY = ("defectdojo", "ocsf")  # other tools' finding documents

Rows = Iterable[Mapping[str, Any]]


def write(kind: str, rows: Rows, fmt: str, out: TextIO, *, plain_text: bool = False) -> int:
    """Stream rows to `out` in the format; returns how many records were written.

    `plain_text`: the KB's HTML description, impact and solution as text (DefectDojo and OCSF
    documents always carry text)."""
    counted = _Counted(rows)
    for text in iter_lines(kind, counted, fmt, plain_text=plain_text):
        out.write(text)
    return counted.count


def iter_lines(kind: str, rows: Rows, fmt: str, *, plain_text: bool = False) -> Iterator[str]:
    """The export as text, pulled a record at a time (the CLI writes it, the console streams it)."""
    if fmt in FINDINGS_ONLY and kind != "findings":
        raise ValueError(f"--format {fmt} exports findings only, not {kind}")
    if fmt == "csv":
        return _csv_lines(kind, rows, plain_text)
    if fmt == "defectdojo":
        return _array(rows, defectdojo.finding, opening='{"findings": [', closing="]}")
    if fmt == "ocsf":
        return _lines(rows, ocsf.event)

    def record(row: Mapping[str, Any]) -> dict[str, Any]:
        return shape(kind, row, plain_text=plain_text)

    if fmt == "json":
        return _array(rows, record, opening="[", closing="]")
    return _lines(rows, record)


class _Counted:
    """The rows, counting how many were taken."""

    def __init__(self, rows: Rows) -> None:
        self._rows = rows
        self.count = 0

    def __iter__(self) -> Iterator[Mapping[str, Any]]:
        for row in self._rows:
            self.count += 1
            yield row


def _lines(rows: Rows, to_json: Callable[[Mapping[str, Any]], Any]) -> Iterator[str]:
    for row in rows:
        yield json.dumps(to_json(row), ensure_ascii=False) + "\n"


def _array(
    rows: Rows,
    to_json: Callable[[Mapping[str, Any]], Any],
    *,
    opening: str,
    closing: str,
) -> Iterator[str]:
    yield opening
    first = True
    for row in rows:
        yield ("\n" if first else ",\n") + json.dumps(to_json(row), ensure_ascii=False)
        first = False
    yield f"{closing}\n" if first else f"\n{closing}\n"


def _csv_lines(kind: str, rows: Rows, plain_text: bool) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(KEYS[kind])
    yield _take(buffer)
    for row in rows:
        writer.writerow([csv_cell(v) for v in shape(kind, row, plain_text=plain_text).values()])
        yield _take(buffer)


def _take(buffer: io.StringIO) -> str:
    text = buffer.getvalue()
    buffer.seek(0)
    buffer.truncate()
    return text
