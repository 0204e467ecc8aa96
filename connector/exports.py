"""Export records (a contract for scripts and dashboards): pure shaping plus streaming writers.

Keys and formats are documented in the README. Dates are `YYYY-MM-DDTHH:MM:SSZ`, ids are strings,
unknown values are null. CSV cells that a spreadsheet would run as a formula are neutralised.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any, TextIO

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
)  # fmt: skip
WEAKNESS_KEYS = (
    "connector", "qid", "title", "category", "severity_level", "cves", "cvss_v3_base",
    "published_date", "open_findings", "affected_assets",
)  # fmt: skip
KEYS = {"assets": ASSET_KEYS, "findings": FINDING_KEYS, "weaknesses": WEAKNESS_KEYS}
FORMATS = ("jsonl", "csv", "json")
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def shape(kind: str, row: Mapping[str, Any]) -> dict[str, Any]:
    """A stored row as its export record: contract keys, ids as strings, dates formatted."""
    record: dict[str, Any] = {}
    for key in KEYS[kind]:
        if key == "id":
            value = row["key"]
        elif key == "asset_id":
            value = row["asset_key"]
        else:
            value = row.get(key)
        record[key] = format_datetime(value) if isinstance(value, datetime) else value
    return record


def write(kind: str, rows: Iterable[Mapping[str, Any]], fmt: str, out: TextIO) -> int:
    """Stream rows to `out` in the format; returns how many records were written."""
    if fmt == "jsonl":
        return _write_jsonl(kind, rows, out)
    if fmt == "json":
        return _write_json_array(kind, rows, out)
    return _write_csv(kind, rows, out)


def _write_jsonl(kind: str, rows: Iterable[Mapping[str, Any]], out: TextIO) -> int:
    count = 0
    for row in rows:
        out.write(json.dumps(shape(kind, row), ensure_ascii=False))
        out.write("\n")
        count += 1
    return count


def _write_json_array(kind: str, rows: Iterable[Mapping[str, Any]], out: TextIO) -> int:
    count = 0
    out.write("[")
    for row in rows:
        out.write(",\n" if count else "\n")
        out.write(json.dumps(shape(kind, row), ensure_ascii=False))
        count += 1
    out.write("\n]\n" if count else "]\n")
    return count


def _write_csv(kind: str, rows: Iterable[Mapping[str, Any]], out: TextIO) -> int:
    writer = csv.writer(out)
    writer.writerow(KEYS[kind])
    count = 0
    for row in rows:
        writer.writerow([csv_cell(v) for v in shape(kind, row).values()])
        count += 1
    return count


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
