"""The section structure of a Qualys WAS scan report exported as CSV, streamed row by row.

A report is a stack of sections, each introduced by a one-cell row naming it (`RESULTS`,
`GLOSSARY`, ...). In RESULTS and GLOSSARY every row starts with its sub-table's tag
(`VULNERABILITY`, `QID`, `GROUP`, ...) and the first row of each tag is that sub-table's header.
Elsewhere (SUMMARY, APPENDIX) a header is the first row of the section, a row whose cell count
differs from the current header's, or a row starting with a known header label.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import NamedTuple

from connector.importer.csvrows import CsvRecord

PREAMBLE = "PREAMBLE"  # the rows before the first section: "Scan Report", company, user
SECTIONS = frozenset(
    {"DESCRIPTION", "TARGET", "FILTERS", "SUMMARY", "RESULTS", "GLOSSARY", "APPENDIX"}
)
TAGGED_SECTIONS = frozenset({"RESULTS", "GLOSSARY"})
HEADERLESS_SECTIONS = frozenset({PREAMBLE, "DESCRIPTION", "TARGET", "FILTERS"})  # rows only
KNOWN_HEADERS: dict[str, frozenset[str]] = {
    "SUMMARY": frozenset({"Security Risk", "Scan"}),
    "APPENDIX": frozenset({"Scan Name", "Form Submission", "Web Application Name", "Category"}),
}


class SectionRow(NamedTuple):
    section: str
    header: tuple[str, ...]  # the header of the sub-table this row belongs to; () for a header
    row: list[str]
    line_no: int


def iter_sections(records: Iterable[CsvRecord]) -> Iterator[SectionRow]:
    """Data rows with their section and header. Header rows themselves are not yielded."""
    section = PREAMBLE
    headers: dict[str, tuple[str, ...]] = {}  # tag -> header (tagged sections)
    header: tuple[str, ...] = ()
    for record in records:
        cells = record.cells
        if len(cells) == 1 and cells[0].strip() in SECTIONS:
            section = cells[0].strip()
            headers = {}
            header = ()
            continue
        if section in TAGGED_SECTIONS:
            tag = cells[0]
            if tag not in headers:
                headers[tag] = tuple(cells)
                continue
            yield SectionRow(section, headers[tag], cells, record.line_no)
            continue
        if section in HEADERLESS_SECTIONS:
            yield SectionRow(section, (), cells, record.line_no)
            continue
        if (
            not header
            or len(cells) != len(header)
            or cells[0] in KNOWN_HEADERS.get(section, frozenset())
        ):
            header = tuple(cells)
            continue
        yield SectionRow(section, header, cells, record.line_no)
