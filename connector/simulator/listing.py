"""One page of a web app or finding search: its content, the listing faults that bend it, its XML.

A page is rendered records plus `hasMoreRecords`/`lastId`. The listing faults (ends_early,
ends_empty, endless_empty, repeat_page) change only that content, so the XML stays exactly the
shape Qualys writes (an empty finding search: only `<count>0</count>`, like
samples/search_was_finding_empty.xml).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from connector.simulator.faults import FaultKind
from connector.simulator.query import SearchRequest
from connector.simulator.xmlout import service_response_open


@dataclass(frozen=True)
class Page:
    obj: str
    """webapp or finding."""
    items: tuple[str, ...]
    """Rendered `<WebApp>` / `<Finding>` elements."""
    more: bool
    last_id: int
    """The id lastId names when `more` (the last record's id on a normal page)."""
    verbose: bool


def listing_key(obj: str, request: SearchRequest) -> tuple[object, ...]:
    """What identifies one listing across its pages: everything but the keyset `id GREATER`."""
    criteria = tuple(
        (c.field, c.operator, c.values)
        for c in request.criteria
        if not (c.field == "id" and c.operator == "GREATER")
    )
    return (obj, request.verbose, request.limit, criteria)


def keyset_after(request: SearchRequest) -> int:
    """The highest `id GREATER` bound of the request (0 without one)."""
    bounds = [
        int(c.values[0])  # type: ignore[arg-type]
        for c in request.criteria
        if c.field == "id" and c.operator == "GREATER"
    ]
    return max(bounds, default=0)


def bend_page(kind: FaultKind, page: Page, previous: Page | None, request: SearchRequest) -> Page:
    """The page a listing fault answers instead of `page` (`previous`: this listing's last)."""
    if kind == FaultKind.ENDS_EARLY:
        return replace(page, more=False, last_id=0)
    if kind == FaultKind.ENDS_EMPTY:
        return replace(page, items=(), more=False, last_id=0)
    if kind == FaultKind.ENDLESS_EMPTY:
        after = page.last_id if page.items else keyset_after(request) + request.limit
        return replace(page, items=(), more=True, last_id=after)
    if kind == FaultKind.REPEAT_PAGE:
        return previous if previous is not None else page
    raise ValueError(f"{kind} is not a listing fault")


def render_page(page: Page) -> str:
    head = service_response_open(page.obj) + "  <responseCode>SUCCESS</responseCode>\n"
    if not page.items and not page.more and page.obj == "finding":
        return head + "  <count>0</count>\n</ServiceResponse>\n"
    parts = [head, f"  <count>{len(page.items)}</count>\n"]
    parts.append(f"  <hasMoreRecords>{'true' if page.more else 'false'}</hasMoreRecords>\n")
    if page.more:
        parts.append(f"  <lastId>{page.last_id}</lastId>\n")
    if page.items:
        parts.append("  <data>\n")
        parts.extend(page.items)
        parts.append("  </data>\n")
    elif page.obj == "finding":
        parts.append("  <data/>\n")
    else:
        parts.append("  <data>\n      </data>\n")  # as search_was_webapp_empty.xml
    parts.append("</ServiceResponse>\n")
    return "".join(parts)
