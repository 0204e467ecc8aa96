"""What a parsed scan file holds before mapping: result rows, glossary entries, the web application.

The readers (`wasreport_csv`, `wasreport_xml`, `flatcsv`) produce these; `records` maps them to
models. Cells are keyed by the file's own column (or XML element) names.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True, slots=True)
class Payload:
    """One payload group of a result: `Payload #n`, `Request ... #n`, `Response #n` (or XML)."""

    num: int
    payload: str | None = None
    method: str | None = None
    url: str | None = None
    headers: str | None = None
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


@dataclass(frozen=True, slots=True)
class WebApp:
    name: str | None
    url: str | None


@dataclass(frozen=True, slots=True)
class ReportInfo:
    """What pass 1 learns about a WAS report: checksum, date, web application, glossary."""

    checksum: str
    report_date: datetime | None
    webapp: WebApp | None
    glossary: Mapping[str, Mapping[str, str]]  # QID -> the glossary cells the mapping uses
    tables: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # results table -> header
    glossary_header: tuple[str, ...] = ()
