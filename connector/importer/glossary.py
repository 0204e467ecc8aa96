"""Pure mapping of a report's GLOSSARY entries to Weakness records: the glossary is a KB.

One table names each Weakness field's column in the CSV glossary and its element in the XML one
(nested XML elements are joined with "_": `CVSS_V3/BASE` is `CVSS_V3_BASE`). OWASP and WASC
codes become the names the glossary's own OWASP and WASC tables give them, as API findings carry
names. A value that is not what its column holds is an ImportFileError naming the entry.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime

from connector.errors import ImportFileError
from connector.importer.mapping import ImportFormat
from connector.models import SOURCE_IMPORT, Weakness

QID_MAX = 2**31 - 1  # the qid columns are 32-bit integers on PostgreSQL

# Weakness field -> (CSV glossary column, XML glossary element)
GLOSSARY_COLUMNS: dict[str, tuple[str, str]] = {
    "qid": ("Id", "QID"),
    "title": ("Title", "TITLE"),
    "category": ("Category", "CATEGORY"),
    "severity_level": ("Severity Level", "SEVERITY"),
    "cwes": ("CWE", "CWE"),
    "owasp": ("OWASP", "OWASP"),
    "wasc": ("WASC", "WASC"),
    "cvss_base": ("CVSS Base", "CVSS_BASE"),
    "cvss_temporal": ("CVSS Temporal", "CVSS_TEMPORAL"),
    "cvss_v3_base": ("CVSS V3 Base", "CVSS_V3_BASE"),
    "cvss_v3_temporal": ("CVSS V3 Temporal", "CVSS_V3_TEMPORAL"),
    "cvss_v3_attack_vector": ("CVSS V3 Attack Vector", "CVSS_V3_ATTACK_VECTOR"),
    "cvss_v3_vector": ("CVSS V3 Vector", "CVSS_V3_VECTOR_STRING"),
    "description": ("Description", "DESCRIPTION"),
    "impact": ("Impact", "IMPACT"),
    "solution": ("Solution", "SOLUTION"),
}
_NUMBER = re.compile(r"\d+")


def parse_qid(text: str) -> int | None:
    """A QID as an int, or None when it is not a QID (not digits, or beyond 32 bits)."""
    text = text.strip()
    if not text.isdigit() or len(text) > 10:
        return None
    qid = int(text)
    return qid if 0 < qid <= QID_MAX else None


def cwe_ids(text: str | None) -> tuple[int, ...]:
    """`CWE-79, CWE-80` -> (79, 80)."""
    return tuple(int(n) for n in _NUMBER.findall(text or "") if len(n) < 10)


def named(text: str | None, names: Mapping[str, str]) -> tuple[str, ...]:
    """`A1, A7` -> the names the glossary gives those codes (a code it does not name stays)."""
    if not text:
        return ()
    codes = [p.strip() for p in text.split(",") if p.strip()]
    return tuple(dict.fromkeys(names.get(code, code) for code in codes))


def glossary_weakness(
    cells: Mapping[str, str],
    fmt: ImportFormat,
    *,
    owasp_names: Mapping[str, str],
    wasc_names: Mapping[str, str],
    report_date: datetime | None,
    where: str,
) -> Weakness:
    """One glossary entry as a Weakness dated `report_date`; `where` names it in errors."""
    column = 1 if fmt is ImportFormat.QUALYS_WAS_XML else 0

    def value(field: str) -> str | None:
        text = cells.get(GLOSSARY_COLUMNS[field][column], "").strip()
        return text or None

    def score(field: str) -> float | None:
        text = value(field)
        if text is None:
            return None
        try:
            number = float(text)
        except ValueError:
            number = -1.0
        if not 0.0 <= number <= 10.0:
            raise ImportFileError(
                f"{where}: {GLOSSARY_COLUMNS[field][column]} {text!r} is not a score from 0 to "
                "10: the glossary is damaged; export the report again"
            )
        return number

    qid_text = value("qid") or ""
    qid = parse_qid(qid_text)
    if qid is None:
        raise ImportFileError(
            f"{where}: QID {qid_text[:40]!r} is not a QID (a number below {QID_MAX + 1}): the "
            "glossary is damaged; export the report again"
        )
    level = value("severity_level")
    return Weakness(
        qid=qid,
        title=value("title"),
        category=value("category"),
        severity_level=int(level) if level and level.isdigit() and len(level) == 1 else None,
        description=value("description"),
        impact=value("impact"),
        solution=value("solution"),
        cvss_v3_base=score("cvss_v3_base"),
        cvss_v3_temporal=score("cvss_v3_temporal"),
        cvss_v3_vector=(value("cvss_v3_vector") or "")[:200] or None,
        cvss_base=score("cvss_base"),
        cvss_temporal=score("cvss_temporal"),
        cvss_v3_attack_vector=(value("cvss_v3_attack_vector") or "")[:32] or None,
        cwes=cwe_ids(value("cwes")),
        owasp=named(value("owasp"), owasp_names),
        wasc=named(value("wasc"), wasc_names),
        source=SOURCE_IMPORT,
        as_of=report_date,
    )
