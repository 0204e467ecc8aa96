"""WAS v3.0 `ServiceRequest` bodies: criteria and preferences rendered as XML."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from xml.etree import ElementTree as ET

OPERATORS: frozenset[str] = frozenset(
    {"EQUALS", "NOT EQUALS", "GREATER", "LESSER", "IN", "CONTAINS", "IS EMPTY", "NONE"}
)

CriterionValue = str | int | datetime | tuple[str | int, ...]


def qualys_datetime(value: datetime) -> str:
    """UTC `YYYY-MM-DDTHH:MM:SSZ`, the only date form Qualys filters accept (naive means UTC)."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class Criterion:
    """One `<Criteria field=".." operator="..">value</Criteria>`; criteria are ANDed."""

    field: str
    operator: str
    value: CriterionValue = ""

    def __post_init__(self) -> None:
        if self.operator not in OPERATORS:
            raise ValueError(
                f"unknown Qualys operator {self.operator!r} (known: {', '.join(sorted(OPERATORS))})"
            )
        if not self.field:
            raise ValueError("a Qualys criterion needs a field")

    @property
    def text(self) -> str:
        """The value as Qualys expects it: dates in UTC, tuples as a comma list."""
        value = self.value
        if isinstance(value, datetime):
            return qualys_datetime(value)
        if isinstance(value, tuple):
            return ",".join(str(v) for v in value)
        return str(value)


def service_request(
    criteria: Sequence[Criterion] = (),
    *,
    verbose: bool | None = None,
    limit_results: int | None = None,
) -> bytes:
    """A complete `<ServiceRequest>` document (UTF-8 bytes) for a WAS search or count."""
    root = ET.Element("ServiceRequest")
    if verbose is not None or limit_results is not None:
        prefs = ET.SubElement(root, "preferences")
        if verbose is not None:
            ET.SubElement(prefs, "verbose").text = "true" if verbose else "false"
        if limit_results is not None:
            if not 1 <= limit_results <= 1000:
                raise ValueError(f"limitResults {limit_results} is out of range 1..1000")
            ET.SubElement(prefs, "limitResults").text = str(limit_results)
    if criteria:
        filters = ET.SubElement(root, "filters")
        for criterion in criteria:
            element = ET.SubElement(
                filters, "Criteria", {"field": criterion.field, "operator": criterion.operator}
            )
            element.text = criterion.text
    document: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return document
