"""What the readers make of a scan file before mapping: result rows, and the facts of the report.

The readers (`csvreport`, `xmlreport`, `flatcsv`) produce these; `records` maps them to models.
Cells are keyed by the file's own column (or XML element) names; nested XML elements are joined
with "_" (`CVSS_V3/BASE` is the cell `CVSS_V3_BASE`).
"""

from __future__ import annotations

from array import array
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime

VULNERABILITY = "VULNERABILITY"
SENSITIVE_CONTENT = "SENSITIVE_CONTENT"
INFORMATION_GATHERED = "INFORMATION_GATHERED"
RESULT_TYPES = (VULNERABILITY, SENSITIVE_CONTENT, INFORMATION_GATHERED)
RAW_DIGEST_BYTES = 16


@dataclass(frozen=True, slots=True)
class Payload:
    """One payload group of a result: `Payload #n`, `Request ... #n`, `Response #n` (or XML)."""

    num: int
    payload: str | None = None
    method: str | None = None
    url: str | None = None
    headers: str | None = None
    body: str | None = None
    response: str | None = None
    evidence: str | None = None


@dataclass(frozen=True, slots=True)
class ReportRow:
    """One result row: its table (finding type, "" for flat CSV), cells, and evidence parts."""

    line_no: int
    table: str
    cells: Mapping[str, str]
    payloads: tuple[Payload, ...] = ()
    results: str | None = None  # INFORMATION_GATHERED "Results" / DATA text
    webapp: str | None = None  # RESULTS/WEB_APPLICATION's ID (or NAME) in a nested report
    digest: bytes = b""  # of the row's raw text: an identical row of a re-import is skipped


@dataclass(frozen=True, slots=True)
class BadRow:
    """A row the reader could not split into cells; the mapping never sees it."""

    line_no: int
    table: str
    reason: str


@dataclass(frozen=True, slots=True)
class WebApp:
    """A web application a report names (APPENDIX, or RESULTS/WEB_APPLICATION)."""

    id: str | None
    name: str | None
    url: str | None
    aliases: tuple[str, ...] = ()  # other IDs/names the results call it by


@dataclass(frozen=True, slots=True)
class RawRow:
    """What pass 1 keeps of a result: its line, type, QID, web application and raw digest:
    enough to tell, before pass 2, that a re-import holds nothing new (and small: one of these
    per result stays in memory)."""

    line_no: int
    table: str
    qid: str | None
    webapp: str | None
    digest: bytes


class RawRows:
    """Every result as pass 1 saw it, compactly (about 40 bytes a row: a report of 200,000
    results keeps them all while it is imported)."""

    def __init__(self) -> None:
        self._digests = bytearray()
        self._lines = array("q")
        self._tables = array("b")
        self._qids: list[str | None] = []
        self._webapps: list[str | None] = []

    def append(
        self, line_no: int, table: str, qid: str | None, webapp: str | None, digest: bytes
    ) -> None:
        if len(digest) != RAW_DIGEST_BYTES:
            raise ValueError(f"a raw digest has {RAW_DIGEST_BYTES} bytes")
        self._digests += digest
        self._lines.append(line_no)
        self._tables.append(RESULT_TYPES.index(table) if table in RESULT_TYPES else -1)
        self._qids.append(qid)
        self._webapps.append(webapp)

    def __len__(self) -> int:
        return len(self._lines)

    def __iter__(self) -> Iterator[RawRow]:
        size = RAW_DIGEST_BYTES
        for i, line_no in enumerate(self._lines):
            kind = self._tables[i]
            yield RawRow(
                line_no,
                RESULT_TYPES[kind] if kind >= 0 else "",
                self._qids[i],
                self._webapps[i],
                bytes(self._digests[i * size : (i + 1) * size]),
            )


@dataclass(frozen=True)
class ReportFacts:
    """What the first pass learns about a WAS report, before any result is mapped."""

    checksum: str
    kind: str  # WAS_SCAN_REPORT, WAS_WEBAPP_REPORT, or "Scan Report" (CSV)
    layouts: tuple[str, ...]  # where the results were found, e.g. "RESULTS/VULNERABILITY_LIST"
    report_date: datetime | None  # the scan's end, else the report's generation time
    webapps: tuple[WebApp, ...]
    glossary: Mapping[str, Mapping[str, str]]  # QID -> glossary cells
    owasp_names: Mapping[str, str] = field(default_factory=dict)  # code -> name
    wasc_names: Mapping[str, str] = field(default_factory=dict)
    declared: Mapping[str, int] | None = None  # the report's SUMMARY: type -> results
    found: Mapping[str, int] = field(default_factory=dict)  # records the file holds per type
    located: frozenset[str] = frozenset()  # the types whose list (or table) the file has
    filters: tuple[str, ...] = ()  # FILTERS, as "NAME: value"
    tables: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # CSV table -> header
    glossary_header: tuple[str, ...] = ()
    identity: str = "Detection ID"  # the column findings are keyed on
    raw_rows: RawRows = field(default_factory=RawRows)  # every result, as pass 1 saw it
