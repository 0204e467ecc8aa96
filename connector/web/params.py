"""The findings list's query parameters, parsed and checked (pure): the export's filters
(status, severity, asset, since, include_archived) plus qid, type, source, scan and q; the sort;
and the keyset cursor (`after` / `before`, an opaque token)."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from connector.models import FindingStatus, Severity
from connector.store.console import DEFAULT_SORT, SORTS, Cursor, cursor_fits
from connector.store.queries import ExportFilter

TYPES = ("VULNERABILITY", "SENSITIVE_CONTENT", "INFORMATION_GATHERED")
SOURCES = ("api", "import")
FILTER_KEYS = (
    "status", "severity", "asset", "since", "include_archived", "qid", "type", "source", "scan",
    "q",
)  # fmt: skip
MAX_TEXT = 200


@dataclass(frozen=True)
class FindingQuery:
    where: ExportFilter
    scan: int | None  # an imported scan id; the page resolves it to the scan's run
    sort: str = DEFAULT_SORT
    cursor: Cursor | None = None
    backward: bool = False
    params: dict[str, Any] = field(default_factory=dict)  # the filters as given, for links
    problems: list[str] = field(default_factory=list)


def parse_finding_query(values: Mapping[str, Sequence[str]]) -> FindingQuery:
    """values: parameter -> every value given (`status=Active&status=Fixed`)."""
    problems: list[str] = []

    def many(name: str, allowed: Sequence[str]) -> tuple[str, ...]:
        chosen: list[str] = []
        for raw in values.get(name, ()):
            for item in (p.strip() for p in raw.split(",")):
                match = next((a for a in allowed if a.casefold() == item.casefold()), None)
                if match is None and item:
                    problems.append(f"{name} {item!r} is not one of {', '.join(allowed)}")
                elif match and match not in chosen:
                    chosen.append(match)
        return tuple(chosen)

    def one(name: str) -> str | None:
        given = [v.strip() for v in values.get(name, ()) if v.strip()]
        if len(given[-1:]) and len(given[-1]) > MAX_TEXT:
            problems.append(f"{name} is longer than {MAX_TEXT} characters")
            return None
        return given[-1] if given else None

    statuses = many("status", [s.value for s in FindingStatus])
    severities = many("severity", [s.value for s in Severity])
    types = many("type", TYPES)
    sources = many("source", SOURCES)
    qids: list[int] = []
    for raw in values.get("qid", ()):
        for item in (p.strip() for p in raw.split(",") if p.strip()):
            if item.isdigit() and len(item) < 10:
                qids.append(int(item))
            else:
                problems.append(f"qid {item!r} is not a QID (a number like 150001)")
    since = _date(one("since"), problems)
    scan_text = one("scan")
    scan = None
    if scan_text is not None:
        if scan_text.isdigit() and len(scan_text) < 10:
            scan = int(scan_text)
        else:
            problems.append(f"scan {scan_text!r} is not an imported scan's number")
    include = one("include_archived")
    sort = one("sort") or DEFAULT_SORT
    if sort not in SORTS:
        problems.append(f"sort {sort!r} is not one of {', '.join(SORTS)}")
        sort = DEFAULT_SORT
    after, before = one("after"), one("before")
    cursor = decode_cursor(before or after or "", problems) if (before or after) else None
    if cursor is not None and not cursor_fits(sort, cursor):
        problems.append("the page link does not fit this sort order: start from the first page")
        cursor = None
    where = ExportFilter(
        statuses=statuses,
        severities=severities,
        asset=one("asset"),
        since=since,
        include_archived=include in ("1", "on", "true", "yes"),
        qids=tuple(qids),
        types=types,
        sources=sources,
        text=one("q"),
    )
    params: dict[str, Any] = {
        "status": list(statuses),
        "severity": list(severities),
        "asset": where.asset,
        "since": since.strftime("%Y-%m-%d") if since else None,
        "include_archived": "1" if where.include_archived else None,
        "qid": ",".join(str(q) for q in qids) or None,
        "type": list(types),
        "source": list(sources),
        "scan": str(scan) if scan is not None else None,
        "q": where.text,
        "sort": sort if sort != DEFAULT_SORT else None,
    }
    return FindingQuery(where, scan, sort, cursor, bool(before), params, problems)


def _date(text: str | None, problems: list[str]) -> datetime | None:
    if text is None:
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        problems.append(f"since {text!r} is not a date like 2024-01-31")
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def encode_cursor(cursor: Cursor) -> str:
    value: Any = cursor.value
    if isinstance(value, datetime):
        value = {"t": value.isoformat()}
    raw = json.dumps([cursor.segment, cursor.key, value], separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(token: str, problems: list[str]) -> Cursor | None:
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        segment, key, value = json.loads(raw)
        if isinstance(value, dict):
            value = datetime.fromisoformat(value["t"])
        valid = (
            isinstance(segment, int)
            and 0 <= segment < 16
            and isinstance(key, str)
            and (value is None or isinstance(value, int | str | datetime))
            and not isinstance(value, bool)
        )
    except (ValueError, TypeError, KeyError, binascii.Error, json.JSONDecodeError):
        valid = False
    if not valid:
        problems.append("the page link is damaged: start again from the first page")
        return None
    return Cursor(segment, key, value)
