"""The Qualys WAS scan report as CSV, read in two streamed passes.

The GLOSSARY (titles, severity levels) comes after the RESULTS, so pass 1 (`read_facts`) reads
the whole file once, keeping only the small parts: the glossary and its OWASP/WASC names, the
web application and scan dates from the APPENDIX, the SUMMARY's counts, the FILTERS, each results
table's header and row count, and the checksum. It also proves the file decodes and parses to the
end before anything is written. Pass 2 (`iter_rows`) streams the RESULTS again, one row at a time,
and stops at the GLOSSARY. Columns are read by header name, never by position, so old and new
exports (Unique ID, Port, CVSS V3 columns, several payload groups) read alike.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from datetime import datetime
from hashlib import blake2b
from pathlib import Path

from connector.errors import ImportFileError
from connector.importer.csvrows import csv_records
from connector.importer.dates import parse_report_date
from connector.importer.printable import printable
from connector.importer.report import (
    RAW_DIGEST_BYTES,
    RESULT_TYPES,
    BadRow,
    Payload,
    RawRows,
    ReportFacts,
    ReportRow,
    WebApp,
)
from connector.importer.sections import PREAMBLE, iter_sections
from connector.importer.textlines import Progress, TextFile

REPORT_TITLE = "Scan Report"
GLOSSARY_KEY = "Id"  # the glossary's QID column ("QID" is the row tag)
RESULTS_TAG_COLUMN = 0
SUMMARY_COLUMNS = {
    "Vulnerabilities": "VULNERABILITY",
    "Sensitive Contents": "SENSITIVE_CONTENT",
    "Information Gathered": "INFORMATION_GATHERED",
}
_PAYLOAD_COLUMN = re.compile(r"^(?P<label>.+?)\s*#(?P<num>\d+)$")
_PAYLOAD_ATTRS = {
    "payload": "payload",
    "request method": "method",
    "request url": "url",
    "request headers": "headers",
    "request body": "body",
    "response": "response",
    "evidence": "evidence",
}
RESULTS_TEXT_COLUMN = "Results"


def row_digest(cells: list[str]) -> bytes:
    """The raw digest of a results row (pass 1 and pass 2 compute it alike)."""
    return blake2b(
        "\x1f".join(cells).encode("utf-8", "surrogatepass"), digest_size=RAW_DIGEST_BYTES
    ).digest()


def looks_like_report(first_cells: list[str]) -> bool:
    """True for the first record of a WAS scan report export (`Scan Report,<date>`)."""
    return bool(first_cells) and first_cells[0].strip() == REPORT_TITLE


class _Facts:
    """Pass 1's collector: one handler per section of the report."""

    def __init__(self, path: Path, qid_column: str) -> None:
        self.path = path
        self.capture = qid_column
        self.raw_rows = RawRows()
        self._columns: dict[tuple[str, ...], int] = {}
        self._qids: dict[str, str] = {}
        self.glossary: dict[str, dict[str, str]] = {}
        self.glossary_header: tuple[str, ...] = ()
        self.names: dict[str, dict[str, str]] = {"OWASP": {}, "WASC": {}}
        self.tables: dict[str, tuple[str, ...]] = {}
        self.found: Counter[str] = Counter()
        self.generated: datetime | None = None
        self.scan_ends: list[datetime] = []
        self.webapps: list[WebApp] = []
        self.declared: dict[str, int] | None = None
        self.filters: list[str] = []
        self.handlers = {
            "RESULTS": self._result,
            "GLOSSARY": self._glossary,
            PREAMBLE: self._preamble,
            "SUMMARY": self._summary,
            "FILTERS": self._filter,
            "APPENDIX": self._appendix,
        }

    def _result(self, header: tuple[str, ...], row: list[str], line_no: int) -> None:
        tag = row[RESULTS_TAG_COLUMN]
        if tag not in RESULT_TYPES:
            raise ImportFileError(
                f"{self.path}: line {line_no}: the RESULTS hold a {printable(tag)!r} table, "
                f"which this importer does not know (it reads {', '.join(RESULT_TYPES)}): "
                "nothing was imported; report the file's layout to the connector's maintainers"
            )
        self.tables.setdefault(tag, header)
        self.found[tag] += 1
        column = self._columns.get(header)
        if column is None:
            wanted = self.capture.casefold()
            found = [i for i, name in enumerate(header) if name.casefold() == wanted]
            column = self._columns[header] = found[0] if found else -1
        qid = row[column].strip() if 0 <= column < len(row) else None
        qid = self._qids.setdefault(qid, qid) if qid else None  # one string per QID
        self.raw_rows.append(line_no, tag, qid, None, row_digest(row))

    def _glossary(self, header: tuple[str, ...], row: list[str], _line: int) -> None:
        if row[0] == "QID":
            self.glossary_header = header
            cells = dict(zip(header, row, strict=False))
            qid = cells.get(GLOSSARY_KEY, "").strip()
            if qid:
                self.glossary[qid] = cells
        elif row[0] in self.names and len(row) >= 3:
            self.names[row[0]][row[1].strip()] = row[2].strip()

    def _preamble(self, _header: tuple[str, ...], row: list[str], _line: int) -> None:
        if looks_like_report(row) and len(row) > 1:
            self.generated = parse_report_date(row[1])

    def _summary(self, header: tuple[str, ...], row: list[str], _line: int) -> None:
        if header[:1] == ("Security Risk",):
            cells = dict(zip(header, row, strict=False))
            self.declared = {
                kind: int(text)
                for column, kind in SUMMARY_COLUMNS.items()
                if (text := cells.get(column, "").strip()).isdigit()
            }

    def _filter(self, _header: tuple[str, ...], row: list[str], _line: int) -> None:
        if len(row) >= 2:
            self.filters.append(f"{row[0].strip()}: {row[1].strip()}")

    def _appendix(self, header: tuple[str, ...], row: list[str], _line: int) -> None:
        if not header:
            return
        cells = dict(zip(header, row, strict=False))
        if header[0] == "Web Application Name":
            self.webapps.append(
                WebApp(
                    id=None,
                    name=cells.get("Web Application Name", "").strip() or None,
                    url=cells.get("URL", "").strip() or None,
                )
            )
        elif header[0] == "Scan Name":
            end = parse_report_date(cells.get("End Date")) or parse_report_date(
                cells.get("Start Date")
            )
            if end is not None:
                self.scan_ends.append(end)

    def facts(self, checksum: str) -> ReportFacts:
        detection = all("Detection ID" in header for header in self.tables.values())
        return ReportFacts(
            checksum=checksum,
            kind=REPORT_TITLE,
            layouts=tuple(f"RESULTS/{tag}" for tag in sorted(self.tables)),
            report_date=max(self.scan_ends) if self.scan_ends else self.generated,
            webapps=tuple(self.webapps),
            glossary=self.glossary,
            owasp_names=self.names["OWASP"],
            wasc_names=self.names["WASC"],
            declared=self.declared,
            found=dict(self.found),
            located=frozenset(self.tables),
            filters=tuple(self.filters),
            tables=self.tables,
            glossary_header=self.glossary_header,
            identity="Detection ID" if detection else "ID",
            raw_rows=self.raw_rows,
        )


def read_facts(
    path: Path,
    *,
    encoding: str,
    progress: Progress | None = None,
    qid_column: str = "QID",
) -> ReportFacts:
    """Pass 1: everything but the results (whose tables are counted and checked, and of whose
    rows a RawRow is kept)."""
    lines = TextFile(path, encoding=encoding, progress=progress)
    collector = _Facts(path, qid_column)
    seen_sections: set[str] = set()
    last_line = 0
    for section, header, row, line_no in iter_sections(csv_records(lines)):
        seen_sections.add(section)
        last_line = line_no
        handler = collector.handlers.get(section)
        if handler is not None:
            handler(header, row, line_no)
    if collector.found and "GLOSSARY" not in seen_sections:
        raise ImportFileError(
            f"{path}: line {last_line}: the report has RESULTS but no GLOSSARY section: "
            "the file looks truncated; export the report again"
        )
    return collector.facts(lines.sha256)


def iter_rows(
    path: Path, *, encoding: str, progress: Progress | None = None
) -> Iterator[ReportRow | BadRow]:
    """Pass 2: each RESULTS row, with its payload groups split out; stops at the GLOSSARY.

    A row whose cell count differs from its header's is yielded as a BadRow naming its line."""
    lines = TextFile(path, encoding=encoding, progress=progress)
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
            yield BadRow(
                line_no,
                row[RESULTS_TAG_COLUMN],
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
        self.groups: list[tuple[int, list[tuple[int, str]]]] = []
        self.results_index: int | None = None
        groups: dict[int, list[tuple[int, str]]] = {}
        for index, name in enumerate(header):
            if index == RESULTS_TAG_COLUMN:
                continue
            match = _PAYLOAD_COLUMN.match(name)
            attr = _PAYLOAD_ATTRS.get(match["label"].strip().lower()) if match else None
            if match and attr:
                groups.setdefault(int(match["num"]), []).append((index, attr))
            elif name == RESULTS_TEXT_COLUMN:
                self.results_index = index
            else:
                self.plain.append((index, name))
        self.groups = sorted(groups.items())

    def row(self, cells: list[str], line_no: int) -> ReportRow:
        payloads = []
        for num, members in self.groups:
            values = {attr: cells[i] for i, attr in members if cells[i]}
            if values:
                payloads.append(Payload(num=num, **values))
        return ReportRow(
            line_no=line_no,
            table=cells[RESULTS_TAG_COLUMN],
            cells={name: value for i, name in self.plain if (value := cells[i])},
            payloads=tuple(payloads),
            results=cells[self.results_index] if self.results_index is not None else None,
            digest=row_digest(cells),
        )
