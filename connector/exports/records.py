"""The export contract (for scripts and dashboards): record keys, value shapes, CSV cells.

Keys and formats are documented in the README. Dates are `YYYY-MM-DDTHH:MM:SSZ`, ids are strings,
unknown values are null. CSV cells that a spreadsheet would run as a formula are neutralised.
Keys are only ever appended, so positional CSV readers keep working.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from connector.exports.plaintext import html_to_text
from connector.mapping import format_datetime

ASSET_KEYS = (
    "connector", "id", "name", "url", "first_observed", "last_observed", "tags", "attributes",
    "state", "archived_at", "source",
)  # fmt: skip
FINDING_KEYS = (
    "connector", "id", "unique_id", "asset_id", "asset_name", "qid", "name", "type", "url", "param",
    "status", "qualys_status", "ignored_reason", "severity", "severity_source", "qualys_severity",
    "cvss_v3_base", "cvss_v3_temporal", "attack_vector", "cwes", "owasp", "wasc", "first_seen",
    "last_seen", "fixed_at", "description", "impact", "solution", "published_date", "source",
    "ports", "fixed_reason", "kb_cvss_v3_base",
)  # fmt: skip
WEAKNESS_KEYS = (
    "connector", "qid", "title", "category", "severity_level", "cves", "cvss_v3_base",
    "published_date", "open_findings", "affected_assets",
)  # fmt: skip
KEYS = {"assets": ASSET_KEYS, "findings": FINDING_KEYS, "weaknesses": WEAKNESS_KEYS}
KB_TEXT_KEYS = ("description", "impact", "solution")  # HTML in the Knowledge Base
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def shape(kind: str, row: Mapping[str, Any], *, plain_text: bool = False) -> dict[str, Any]:
    """A stored row as its export record: contract keys, ids as strings, dates formatted; with
    `plain_text`, the KB's HTML description, impact and solution as plain text."""
    record: dict[str, Any] = {}
    for key in KEYS[kind]:
        if key == "id":
            value = row["key"]
        elif key == "asset_id":
            value = row["asset_key"]
        else:
            value = row.get(key)
        if plain_text and key in KB_TEXT_KEYS and isinstance(value, str):
            value = html_to_text(value)
        record[key] = format_datetime(value) if isinstance(value, datetime) else value
    return record


def csv_cell(value: Any) -> str:
    """One CSV cell: lists joined with '; ', mappings as JSON, formulas neutralised with a quote."""
    if value is None:
        return ""
    if isinstance(value, list | tuple):
        text = "; ".join(str(v) for v in value)
    elif isinstance(value, dict):
        text = json.dumps(value, ensure_ascii=False, sort_keys=True)
    elif isinstance(value, bool):
        text = "true" if value else "false"
    else:
        text = str(value)
    return "'" + text if text.startswith(FORMULA_PREFIXES) else text
