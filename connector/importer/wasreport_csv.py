"""The Qualys WAS scan report as CSV, read in two streamed passes.

The GLOSSARY (titles, severity levels) comes after the RESULTS, so pass 1 (`scan_report`) reads
the whole file once, keeping only the small parts: the glossary columns the mapping uses, the
web application and scan dates from the APPENDIX, each results table's header, and the checksum.
It also proves the file decodes and parses to the end before anything is written. Pass 2
(`result_rows`) streams the RESULTS again, one row at a time, and stops at the GLOSSARY.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

from connector.errors import ImportFileError
from connector.importer.csvrows import csv_records
from connector.importer.dates import parse_report_date
from connector.importer.mapping import ImportMapping
from connector.importer.report import Payload, ReportInfo, ReportRow, WebApp
from connector.importer.sections import PREAMBLE, iter_sections
from connector.importer.textlines import TextLines
from connector.models import Rejected

REPORT_TITLE = "Scan Report"
GLOSSARY_TAG = "QID"
GLOSSARY_KEY = "Id"  # the glossary's QID column ("QID" is the row tag)
RESULTS_TAG_COLUMN = 0
_PAYLOAD_COLUMN = re.compile(r"^(?P<label>.+?)\s*#(?P<num>\d+)$")
_PAYLOAD_ATTRS = {
    "payload": "payload",
    "request method": "method",
    "request url": "url",
    "request headers": "headers",
    "response": "response",
    "evidence": "evidence",
}
RESULTS_TEXT_COLUMN = "Results"


def looks_like_report(first_cells: list[str]) -> bool:
    """True for the first record of a WAS scan report export (`Scan Report,<date>`)."""
    return bool(first_cells) and first_cells[0].strip() == REPORT_TITLE


def scan_report(path: Path, *, encoding: str, mapping: ImportMapping) -> ReportInfo:
    """Pass 1: checksum, report date, web application, glossary, results headers."""
    lines = TextLines(path, encoding=encoding)
    wanted = {c.casefold() for c in mapping.columns.values()}
    glossary: dict[str, dict[str, str]] = {}
    glossary_header: tuple[str, ...] = ()
    tables: dict[str, tuple[str, ...]] = {}
    generated: datetime | None = None
    scan_ends: list[datetime] = []
    webapp: WebApp | None = None
    results_rows = 0
    seen_sections: set[str] = set()
    last_line = 0
    for section, header, row, line_no in iter_sections(csv_records(lines)):
        seen_sections.add(section)
        last_line = line_no
        if section == PREAMBLE:
            if looks_like_report(row) and len(row) > 1:
                generated = parse_report_date(row[1])
        elif section == "RESULTS":
            results_rows += 1
            tables.setdefault(row[RESULTS_TAG_COLUMN], header)
        elif section == "GLOSSARY" and row[0] == GLOSSARY_TAG:
            glossary_header = header
            cells = dict(zip(header, row, strict=False))
            qid = cells.get(GLOSSARY_KEY, "").strip()
            if qid:
                glossary[qid] = {k: v for k, v in cells.items() if k.casefold() in wanted}
        elif section == "APPENDIX" and header:
            cells = dict(zip(header, row, strict=False))
            if header[0] == "Web Application Name" and webapp is None:
                webapp = WebApp(
                    name=cells.get("Web Application Name", "").strip() or None,
                    url=cells.get("URL", "").strip() or None,
                )
            elif header[0] == "Scan Name":
                end = parse_report_date(cells.get("End Date")) or parse_report_date(
                    cells.get("Start Date")
                )
                if end is not None:
                    scan_ends.append(end)
    if results_rows and "GLOSSARY" not in seen_sections:
        raise ImportFileError(
            f"{path}: line {last_line}: the report has RESULTS but no GLOSSARY section: "
            "the file looks truncated; export the report again"
        )
    return ReportInfo(
        checksum=lines.sha256,
        report_date=max(scan_ends) if scan_ends else generated,
        webapp=webapp,
        glossary=glossary,
        tables=tables,
        glossary_header=glossary_header,
    )


def result_rows(path: Path, *, encoding: str) -> Iterator[ReportRow | Rejected]:
    """Pass 2: each RESULTS row, with its payload groups split out; stops at the GLOSSARY."""
    lines = TextLines(path, encoding=encoding)
    layouts: dict[tuple[str, ...], _Layout] = {}
    in_results = False
    for section, header, row, line_no in iter_sections(csv_records(lines)):
        if section == "RESULTS":
            in_results = True
        elif in_results:
            return
        else:
            continue
        if len(row) != len(header):
            yield Rejected(
                "row",
                f"line {line_no}",
                f"column {header[-1]!r}: the row has {len(row)} cells but its header "
                f"has {len(header)}: the row is incomplete; fix or re-export the report",
            )
            continue
        layout = layouts.get(header)
        if layout is None:
            layout = layouts[header] = _Layout(header)
        yield layout.row(row, line_no)


class _Layout:
    """Where a results header keeps its plain cells and its `... #n` payload groups."""

    def __init__(self, header: tuple[str, ...]) -> None:
        self.plain: list[tuple[int, str]] = []
        self.groups: dict[int, list[tuple[int, str]]] = {}
        self.results_index: int | None = None
        for index, name in enumerate(header):
            if index == RESULTS_TAG_COLUMN:
                continue
            match = _PAYLOAD_COLUMN.match(name)
            attr = _PAYLOAD_ATTRS.get(match["label"].strip().lower()) if match else None
            if match and attr:
                self.groups.setdefault(int(match["num"]), []).append((index, attr))
            elif name == RESULTS_TEXT_COLUMN:
                self.results_index = index
            else:
                self.plain.append((index, name))

    def row(self, cells: list[str], line_no: int) -> ReportRow:
        payloads = []
        for num, members in sorted(self.groups.items()):
            values = {attr: cells[i] for i, attr in members if cells[i]}
            if values:
                payloads.append(Payload(num=num, **values))
        return ReportRow(
            line_no=line_no,
            table=cells[RESULTS_TAG_COLUMN],
            cells={name: cells[i] for i, name in self.plain},
            payloads=tuple(payloads),
            results=cells[self.results_index] if self.results_index is not None else None,
        )
