"""Dates as Qualys scan reports print them (`24 Apr 2019 01:33AM GMT`, `... GMT-0400`)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone
from functools import lru_cache

_REPORT_DATE = re.compile(
    r"^\s*(?P<day>\d{1,2}) (?P<month>[A-Za-z]{3}) (?P<year>\d{4})"
    r"(?: (?P<hour>\d{1,2}):(?P<minute>\d{2})\s*(?P<ampm>AM|PM)?)?"
    r"(?:\s*(?:GMT|UTC)(?P<offset>[+-]\d{2}:?\d{2})?)?\s*$",
    re.IGNORECASE,
)
EARLIEST, LATEST = 1990, 2199
_MONTHS = {
    m: i
    for i, m in enumerate(
        ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"),
        start=1,
    )
}


@lru_cache(maxsize=4096)  # a report repeats its few scan times on every row
def parse_report_date(text: str | None) -> datetime | None:
    """An aware UTC datetime, or None when `text` is empty or not a date this knows.

    Also accepts ISO 8601 (`2024-05-01T10:00:00Z`, `2024-05-01`), which flat CSVs often use.
    """
    if not text or not text.strip():
        return None
    match = _REPORT_DATE.match(text)
    if match is None:
        return _iso(text.strip())
    month = _MONTHS.get(match["month"].lower())
    if month is None:
        return None
    hour = int(match["hour"] or 0)
    if match["ampm"]:
        hour = hour % 12 + (12 if match["ampm"].upper() == "PM" else 0)
    tz = UTC
    if match["offset"]:
        digits = match["offset"].replace(":", "")
        sign = -1 if digits[0] == "-" else 1
        tz = timezone(sign * timedelta(hours=int(digits[1:3]), minutes=int(digits[3:5])))
    try:
        value = datetime(
            int(match["year"]),
            month,
            int(match["day"]),
            hour,
            int(match["minute"] or 0),
            tzinfo=tz,
        )
        return value.astimezone(UTC)
    except (ValueError, OverflowError):  # 31 Feb; year 1 at GMT+0400 is before year 1 in UTC
        return None


def _iso(text: str) -> datetime | None:
    try:
        value = datetime.fromisoformat(text)
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value.astimezone(UTC)
    except (ValueError, OverflowError):
        return None


def plausible(value: datetime) -> bool:
    """Whether a date can be a scan's: 1990 to 2199. Year 1 or 9999 is a broken export, and
    dates at the edges of the calendar break arithmetic (and PostgreSQL) later."""
    return EARLIEST <= value.year <= LATEST
