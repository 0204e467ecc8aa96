"""Findings as DefectDojo "Generic Findings Import" JSON: `{"findings": [...]}`. Pure mapping.

DefectDojo has no Qualys WAS API connector; this document is what its generic JSON importer
reads. It refuses unknown keys, so only the keys it allows are written. Texts are plain (the KB's
HTML converted), since DefectDojo renders them as Markdown.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from connector.exports.plaintext import html_to_text
from connector.mapping import format_datetime
from connector.models import FindingStatus, Severity

SEVERITY = {
    Severity.NONE.value: "Info",
    Severity.LOW.value: "Low",
    Severity.MEDIUM.value: "Medium",
    Severity.HIGH.value: "High",
    Severity.CRITICAL.value: "Critical",
}
# Qualys' ignore reasons and the DefectDojo flag each one sets (such findings are not active).
IGNORED_FLAGS = {
    "FALSE_POSITIVE": "false_p",
    "RISK_ACCEPTED": "risk_accepted",
    "NOT_APPLICABLE": "out_of_scope",
}


def finding(row: Mapping[str, Any]) -> dict[str, Any]:
    """One stored finding (the export query's row) as a DefectDojo finding."""
    fixed = row["status"] == FindingStatus.FIXED.value
    ignored_flag = IGNORED_FLAGS.get(row.get("ignored_reason") or "")
    item: dict[str, Any] = {
        "title": row["name"],
        "severity": SEVERITY.get(row["severity"], "Info"),
        "description": _text(row.get("description")) or _fallback_description(row),
        "active": not fixed and ignored_flag is None,
        "verified": False,  # Qualys found it; nobody confirmed it by hand
        "is_mitigated": fixed,
        "dynamic_finding": True,
        "static_finding": False,
        "unique_id_from_tool": row["key"],
    }
    if ignored_flag is not None:
        item[ignored_flag] = True
    if fixed and isinstance(row.get("fixed_at"), datetime):
        item["mitigated"] = format_datetime(row["fixed_at"])
    optional = {
        "mitigation": _text(row.get("solution")),
        "impact": _text(row.get("impact")),
        "vuln_id_from_tool": str(row["qid"]) if row.get("qid") is not None else None,
        "cwe": row["cwes"][0] if row.get("cwes") else None,
        "param": row.get("param") or None,
        "date": _date(row),
        "references": _references(row),
    }
    item.update({k: v for k, v in optional.items() if v is not None})
    score, vector = cvss_v3(row)
    if score is not None:
        item["cvssv3_score"] = score
    if vector is not None:
        item["cvssv3"] = vector
    if row.get("url"):
        item["endpoints"] = [row["url"]]
    return item


def cvss_v3(row: Mapping[str, Any]) -> tuple[float | None, str | None]:
    """The finding's CVSS v3 base score, else the KB's; the KB vector only with the KB's score."""
    if row.get("cvss_v3_base") is not None:
        return float(row["cvss_v3_base"]), None
    if row.get("kb_cvss_v3_base") is not None:
        vector = row.get("kb_cvss_v3_vector")
        usable = isinstance(vector, str) and vector.startswith("CVSS:3.")
        return float(row["kb_cvss_v3_base"]), vector if usable else None
    return None, None


def _text(html: Any) -> str | None:
    return (html_to_text(html) or None) if isinstance(html, str) else None


def _fallback_description(row: Mapping[str, Any]) -> str:
    qid = f" (QID {row['qid']})" if row.get("qid") is not None else ""
    return f"{row['name']}{qid}: no Knowledge Base description stored"


def _date(row: Mapping[str, Any]) -> str | None:
    for key in ("first_seen", "last_seen", "created_at"):
        value = row.get(key)
        if isinstance(value, datetime):
            return format_datetime(value)[:10]
    return None


def _references(row: Mapping[str, Any]) -> str | None:
    lines = [f"OWASP: {name}" for name in row.get("owasp") or ()]
    lines += [f"WASC: {name}" for name in row.get("wasc") or ()]
    return "\n".join(lines) or None
