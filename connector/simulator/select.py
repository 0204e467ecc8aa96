"""Finding search criteria as a plan over the columns: which positions to visit, what to test.

A plan is a list of ascending, disjoint segments (ranges, or sorted position lists from an index
or an `id IN`) and chunk filters, each a list comprehension over one column, applied to chunks of
4,096 positions so a page stops as soon as it has its records. Criteria are ANDed, as in Qualys.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from connector.simulator.columns import DATE_FIELDS, INDEXED, NO_DATE, FindingColumns, clamp_date
from connector.simulator.records import FINDING_TYPES, STATUSES, Criterion

CHUNK = 4096
ChunkFilter = Callable[[Sequence[int]], list[int]]

FINDING_DATE_COLUMNS = {
    "firstDetectedDate": "first_detected",
    "lastDetectedDate": "last_detected",
    "lastTestedDate": "last_tested",
    "fixedDate": "fixed_date",
    "ignoredDate": "ignored_date",
    "updatedDate": "updated_date",
}
"""Qualys date filter fields and the column each reads."""
_SELECTIVE = 4
"""Answer a filter from its index when it keeps at most 1/_SELECTIVE of the findings."""


@dataclass(frozen=True)
class Tenant:
    """What a plan needs besides the columns: web app positions and what is hidden."""

    wa_index: dict[int, int]
    """Web app id -> position in the web app list (the `wa` column's code)."""
    blocks: list[tuple[int, int]]
    """Per web app position, the generated findings' [start, end) positions."""
    base_n: int
    """Positions from here on were appended by mutations, in any web app."""
    severities: dict[int, int]
    """QID -> severity."""
    removed: set[int] = field(default_factory=set)
    removed_wa: set[int] = field(default_factory=set)


@dataclass
class Plan:
    segments: list[Sequence[int]]
    filters: list[ChunkFilter]

    def chunks(self) -> Iterator[Sequence[int]]:
        """The matching positions, ascending, a chunk at a time (never an empty chunk)."""
        for segment in self.segments:
            for start in range(0, len(segment), CHUNK):
                chunk: Sequence[int] = segment[start : start + CHUNK]
                for keep in self.filters:
                    chunk = keep(chunk)
                    if not chunk:
                        break
                if chunk:
                    yield chunk

    def count(self) -> int:
        return sum(len(chunk) for chunk in self.chunks())

    def first(self, limit: int, skip: int = 0) -> tuple[list[int], bool]:
        """Up to `limit` positions after skipping `skip`, and whether more match."""
        hits: list[int] = []
        for chunk in self.chunks():
            if skip >= len(chunk):
                skip -= len(chunk)
                continue
            hits.extend(chunk[skip:])
            skip = 0
            if len(hits) > limit:
                return hits[:limit], True
        return hits, False


def plan_findings(cols: FindingColumns, tenant: Tenant, criteria: Sequence[Criterion]) -> Plan:
    """The plan for ANDed finding criteria (fields and operators as query.FINDING_FIELDS)."""
    n = len(cols)
    lo, hi, chosen, rest = _id_criteria(cols, criteria)
    if chosen is not None:
        segments: list[Sequence[int]] | None = [_clip(sorted(chosen), lo, hi)]
    else:
        segments = _from_index(cols, rest, n, lo, hi)
    filters: list[ChunkFilter] = []
    for c in rest:
        if c.field == "webApp.id" and c.operator in ("EQUALS", "IN"):
            wanted = frozenset(
                w for v in c.values if (w := tenant.wa_index.get(_int(v))) is not None
            )
            if segments is None:
                segments = _webapp_blocks(tenant, wanted, n, lo, hi)
            filters.append(_keep(cols.wa, "IN", tuple(wanted)))
        else:
            filters.append(_criterion_filter(cols, tenant, c))
    filters.extend(_visibility_filters(cols, tenant))
    if segments is None:
        segments = [range(lo, hi)] if lo < hi else []
    return Plan(segments=segments, filters=filters)


def _id_criteria(
    cols: FindingColumns, criteria: Sequence[Criterion]
) -> tuple[int, int, set[int] | None, list[Criterion]]:
    """Position bounds from id GREATER/LESSER, the positions id EQUALS/IN allow (None: no such
    criterion), and the other criteria."""
    lo, hi = 0, len(cols)
    chosen: set[int] | None = None
    rest: list[Criterion] = []
    for c in criteria:
        if c.field == "id" and c.operator == "GREATER":
            lo = max(lo, bisect_right(cols.ids, _int(c.values[0])))
        elif c.field == "id" and c.operator == "LESSER":
            hi = min(hi, bisect_left(cols.ids, _int(c.values[0])))
        elif c.field == "id" and c.operator in ("EQUALS", "IN"):
            found = {p for v in c.values if (p := _position(cols, _int(v))) is not None}
            chosen = found if chosen is None else chosen & found
        else:
            rest.append(c)
    return lo, hi, chosen, rest


def _visibility_filters(cols: FindingColumns, tenant: Tenant) -> list[ChunkFilter]:
    """Leave out purged findings and those of removed web apps."""
    filters: list[ChunkFilter] = []
    if tenant.removed:
        removed = tenant.removed
        filters.append(lambda chunk: [i for i in chunk if i not in removed])
    if tenant.removed_wa:
        gone, wa = tenant.removed_wa, cols.wa
        filters.append(lambda chunk: [i for i in chunk if wa[i] not in gone])
    return filters


def _from_index(
    cols: FindingColumns, rest: list[Criterion], n: int, lo: int, hi: int
) -> list[Sequence[int]] | None:
    """When one criterion keeps few findings, its index positions become the segment (and the
    criterion is taken out of `rest`); None when none is selective enough."""
    best: tuple[int, Criterion, str, list[int]] | None = None
    for c in rest:
        column, values = _indexable(c)
        if column is None:
            continue
        estimate = cols.estimate(column, c.operator, values)
        if estimate * _SELECTIVE <= n and (best is None or estimate < best[0]):
            best = (estimate, c, column, values)
    if best is None:
        return None
    _, c, column, values = best
    rest.remove(c)
    return [_clip(cols.select(column, c.operator, values), lo, hi)]


def _indexable(c: Criterion) -> tuple[str | None, list[int]]:
    if c.operator not in ("GREATER", "LESSER", "EQUALS", "IN"):
        return None, []
    if c.field == "qid":
        return "qids", [_int(v) for v in c.values]
    column = FINDING_DATE_COLUMNS.get(c.field)
    if column is not None and column in INDEXED and c.operator in ("GREATER", "LESSER"):
        return column, [_date_cell(c.values[0])]
    return None, []


_CODED: dict[str, tuple[str, Callable[[object, Tenant], int]]] = {
    "id": ("ids", lambda v, t: _int(v)),
    "qid": ("qids", lambda v, t: _int(v)),
    "webApp.id": ("wa", lambda v, t: t.wa_index.get(_int(v), -1)),
    "type": ("types", lambda v, t: FINDING_TYPES.index(str(v))),
    "status": ("statuses", lambda v, t: STATUSES.index(str(v))),
    **{
        field: (column, lambda v, t: _date_cell(v))
        for field, column in FINDING_DATE_COLUMNS.items()
    },
}
"""Filter fields stored as a column: the column, and how a filter value becomes a cell."""


def _criterion_filter(cols: FindingColumns, tenant: Tenant, c: Criterion) -> ChunkFilter:
    op, vals = c.operator, c.values
    if c.field == "severity":  # a property of the QID
        test = _TESTS[op]
        wanted = tuple(q for q, s in tenant.severities.items() if test(s, vals))
        return _keep(cols.qids, "IN", wanted)
    if c.field not in _CODED:
        raise ValueError(f"unsupported finding criterion {c.field} {op}")
    column, code = _CODED[c.field]
    cells = tuple(code(v, tenant) for v in vals)
    floor = NO_DATE if column in DATE_FIELDS else None
    return _keep(cols.column(column), op, cells, floor=floor)


_TESTS: dict[str, Callable[[Any, tuple[Any, ...]], bool]] = {
    "EQUALS": lambda v, a: v == a[0],
    "NOT EQUALS": lambda v, a: v != a[0],
    "GREATER": lambda v, a: v > a[0],
    "LESSER": lambda v, a: v < a[0],
    "IN": lambda v, a: v in a,
}


def _keep(
    column: Sequence[int], op: str, values: tuple[int, ...], floor: int | None = None
) -> ChunkFilter:
    """A chunk filter `column[i] op values`; with `floor`, LESSER also requires > floor."""
    if op == "GREATER":
        low = values[0]
        return lambda chunk: [i for i in chunk if column[i] > low]
    if op == "LESSER":
        high = values[0]
        if floor is not None:
            bottom = floor
            return lambda chunk: [i for i in chunk if bottom < column[i] < high]
        return lambda chunk: [i for i in chunk if column[i] < high]
    if op == "EQUALS":
        one = values[0]
        return lambda chunk: [i for i in chunk if column[i] == one]
    if op == "NOT EQUALS":
        other = values[0]
        return lambda chunk: [i for i in chunk if column[i] != other]
    if op == "IN":
        wanted = frozenset(values)
        return lambda chunk: [i for i in chunk if column[i] in wanted]
    raise ValueError(f"unsupported operator {op}")


def _webapp_blocks(
    tenant: Tenant, wanted: frozenset[int], n: int, lo: int, hi: int
) -> list[Sequence[int]]:
    """The generated blocks of the wanted web apps plus the appended positions, within [lo, hi)."""
    spans = sorted(tenant.blocks[w] for w in wanted if w < len(tenant.blocks))
    spans.append((tenant.base_n, n))
    clipped = ((max(start, lo), min(end, hi)) for start, end in spans)
    return [range(start, end) for start, end in clipped if start < end]


def _clip(positions: list[int], lo: int, hi: int) -> list[int]:
    if not positions or (lo <= positions[0] and positions[-1] < hi):
        return positions
    return positions[bisect_left(positions, lo) : bisect_left(positions, hi)]


def _position(cols: FindingColumns, finding_id: int) -> int | None:
    i = bisect_left(cols.ids, finding_id)
    return i if i < len(cols.ids) and cols.ids[i] == finding_id else None


def _int(value: object) -> int:
    return int(value)  # type: ignore[call-overload, no-any-return]


def _date_cell(value: object) -> int:
    if isinstance(value, datetime):
        return clamp_date(value)
    if isinstance(value, str):
        return clamp_date(datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC))
    raise ValueError(f"not a date: {value!r}")
