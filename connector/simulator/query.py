"""Parsing a QPS `ServiceRequest` body into preferences and typed criteria, with Qualys' errors."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from xml.parsers.expat import ExpatError

import xmltodict

from connector.simulator.records import FINDING_TYPES, STATUSES, Criterion

_LONG_OPS = frozenset({"EQUALS", "NOT EQUALS", "GREATER", "LESSER", "IN"})
_ENUM_OPS = frozenset({"EQUALS", "NOT EQUALS", "IN"})
_TEXT_OPS = frozenset({"EQUALS", "NOT EQUALS", "CONTAINS"})
_DATE_OPS = frozenset({"GREATER", "LESSER"})
DATE_FORMAT = "%Y-%m-%dT%H:%M:%SZ"

FieldSpec = tuple[str, frozenset[str]]
"""(value kind, operators allowed); kind is `long`, `text`, `date`, `type` or `status`."""

FINDING_FIELDS: dict[str, FieldSpec] = {
    "id": ("long", _LONG_OPS),
    "qid": ("long", _LONG_OPS),
    "severity": ("long", _LONG_OPS),
    "webApp.id": ("long", _ENUM_OPS),
    "type": ("type", _ENUM_OPS),
    "status": ("status", _ENUM_OPS),
    "firstDetectedDate": ("date", _DATE_OPS),
    "lastDetectedDate": ("date", _DATE_OPS),
    "lastTestedDate": ("date", _DATE_OPS),
    "ignoredDate": ("date", _DATE_OPS),
    "fixedDate": ("date", _DATE_OPS),
    "updatedDate": ("date", _DATE_OPS),
}
"""The finding filters the simulator answers. Real Qualys documents more (name, url, cwe.id...),
and does not document `updatedDate` as a filter: `Simulator(updated_date_filter=False)` refuses
it, as a Qualys that does not support it would."""
WEBAPP_FIELDS: dict[str, FieldSpec] = {
    "id": ("long", _LONG_OPS),
    "name": ("text", _TEXT_OPS),
    "url": ("text", _TEXT_OPS),
}
_ENUMS = {"type": frozenset(FINDING_TYPES), "status": frozenset(s for s in STATUSES if s)}


class InvalidRequest(Exception):  # noqa: N818 - named after the Qualys responseCode it becomes
    """The request is one Qualys would answer with INVALID_REQUEST."""

    def __init__(self, message: str, resolution: str) -> None:
        super().__init__(message)
        self.message = message
        self.resolution = resolution


@dataclass(frozen=True, slots=True)
class SearchRequest:
    verbose: bool
    limit: int
    offset: int
    criteria: tuple[Criterion, ...]


def parse_service_request(body: bytes, fields: dict[str, FieldSpec]) -> SearchRequest:
    """Read preferences (verbose, limitResults 1..1000, startFromOffset) and the filters."""
    if not body.strip():
        return SearchRequest(verbose=False, limit=100, offset=1, criteria=())
    try:
        doc = xmltodict.parse(body, force_list=("Criteria",), disable_entities=True)
    except (ExpatError, ValueError) as exc:
        raise InvalidRequest(
            f"Invalid XML in request body: {exc}", "Send a well-formed ServiceRequest."
        ) from exc
    root = doc.get("ServiceRequest") if isinstance(doc, dict) else None
    if not isinstance(root, dict):
        root = {}
    prefs = root.get("preferences") or {}
    verbose = str(prefs.get("verbose", "false")).strip().lower() == "true"
    limit = _int_pref(prefs, "limitResults", 100, 1, 1000)
    offset = _int_pref(prefs, "startFromOffset", 1, 1, 2**31)
    filters = root.get("filters") or {}
    raw = filters.get("Criteria", []) if isinstance(filters, dict) else []
    criteria = tuple(_criterion(item, fields) for item in raw)
    return SearchRequest(verbose=verbose, limit=limit, offset=offset, criteria=criteria)


def parse_long(text: str, field: str) -> int:
    try:
        return int(text.strip())
    except ValueError:
        raise InvalidRequest(
            f"Criteria: Invalid value format for criteria '{field}' ({text.strip()}).",
            "Specify criteria value(s) as Long.",
        ) from None


def parse_date(text: str, field: str) -> datetime:
    """A UTC `YYYY-MM-DDTHH:MM:SSZ` date, the only format Qualys filters take."""
    try:
        return datetime.strptime(text.strip(), DATE_FORMAT).replace(tzinfo=UTC)
    except ValueError:
        raise InvalidRequest(
            f"Criteria: Invalid value format for criteria '{field}' ({text.strip()}).",
            "Specify criteria value(s) as Date in the format YYYY-MM-DDTHH:MM:SSZ (UTC).",
        ) from None


def _int_pref(prefs: object, name: str, default: int, low: int, high: int) -> int:
    value = prefs.get(name) if isinstance(prefs, dict) else None
    if value is None:
        return default
    try:
        number = int(str(value).strip())
    except ValueError:
        number = low - 1
    if not low <= number <= high:
        raise InvalidRequest(
            f"Preferences: Invalid value for {name} ({value}).",
            f"Specify {name} as an integer between {low} and {high}.",
        )
    return number


def _criterion(item: object, fields: dict[str, FieldSpec]) -> Criterion:
    if not isinstance(item, dict):
        raise InvalidRequest("Criteria: missing field and operator.", "Add field and operator.")
    field = str(item.get("@field", "")).strip()
    operator = str(item.get("@operator", "EQUALS")).strip().upper()
    text = str(item.get("#text") or "")
    spec = fields.get(field)
    if spec is None:
        raise InvalidRequest(
            f"Criteria: Invalid field name '{field}'.",
            "Use one of the fields this object supports: " + ", ".join(sorted(fields)) + ".",
        )
    kind, operators = spec
    if operator not in operators:
        raise InvalidRequest(
            f"Criteria: Operator '{operator}' is not supported for criteria '{field}'.",
            "Use one of: " + ", ".join(sorted(operators)) + ".",
        )
    parts = [p.strip() for p in text.split(",")] if operator == "IN" else [text.strip()]
    values: list[int | str | datetime] = []
    for part in parts:
        if kind == "long":
            values.append(parse_long(part, field))
        elif kind == "date":
            values.append(parse_date(part, field))
        elif kind in _ENUMS:
            if part not in _ENUMS[kind]:
                raise InvalidRequest(
                    f"Criteria: Invalid value for criteria '{field}' ({part}).",
                    "Use one of: " + ", ".join(sorted(_ENUMS[kind])) + ".",
                )
            values.append(part)
        else:
            values.append(part)
    return Criterion(field=field, operator=operator, values=tuple(values))
