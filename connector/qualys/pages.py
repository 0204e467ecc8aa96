"""A WAS search page: as it arrived (paging read, records not decoded yet) and decoded.

The paging of a plainly successful answer is read cheaply (`quick_success`), so the next request
can leave before the page is decoded; `decode_page` then decodes it where the caller likes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import httpx

from connector.errors import QualysResponseError
from connector.qualys.decode import PageHead, as_list, decode, success_page_head
from connector.qualys.findingxml import finding_records

WasObject = Literal["webapp", "finding"]
RECORD_TAG: dict[WasObject, str] = {"webapp": "WebApp", "finding": "Finding"}


@dataclass(frozen=True)
class Page:
    """One page of a WAS search, records already decoded with list shapes."""

    records: list[dict[str, Any]]
    has_more: bool
    last_id: int | None
    number: int  # 1-based


@dataclass(frozen=True)
class RawPage:
    """One page of a WAS search as it arrived: its paging already read (the next request needs
    no more), its records not decoded yet. `decode_page()` turns it into a Page; it needs no
    client, so it can run in another thread.

    `body` holds the undecoded XML when a cheap read of a SUCCESS answer sufficed for paging;
    otherwise `doc` holds the document the full decode-and-classify path already built.
    """

    kind: WasObject
    path: str
    has_more: bool
    last_id: int | None
    number: int  # 1-based
    body: bytes | None = field(default=None, repr=False)
    doc: dict[str, Any] | None = field(default=None, repr=False)


def decode_page(raw: RawPage) -> Page:
    """The records of one fetched page (decoding its body when it was not decoded yet).

    Finding pages read cheaply go through the fast finding decode (`findingxml`); everything else
    is already a document of the generic decode."""
    if raw.doc is None and raw.kind == "finding":
        records = finding_records(raw.body or b"", source=f"the answer to {raw.path}")
    else:
        doc = raw.doc
        if doc is None:
            doc = decode(raw.body or b"", source=f"the answer to {raw.path}")
        data = service_response(doc, raw.path).get("data")
        found = as_list(data.get(RECORD_TAG[raw.kind])) if isinstance(data, dict) else []
        records = [r if isinstance(r, dict) else {} for r in found]
    return Page(records=records, has_more=raw.has_more, last_id=raw.last_id, number=raw.number)


def quick_success(response: httpx.Response) -> tuple[PageHead, bytes] | None:
    """(paging, body) of a 2xx XML search answer that is plainly a SUCCESS, else None."""
    if not 200 <= response.status_code < 300:
        return None
    if "html" in response.headers.get("content-type", "").lower():
        return None
    body = response.content
    head = success_page_head(body)
    return None if head is None else (head, body)


def service_response(doc: Mapping[str, Any], path: str) -> dict[str, Any]:
    response = doc.get("ServiceResponse")
    if not isinstance(response, dict):
        raise QualysResponseError(
            f"Qualys answered {path} with <{next(iter(doc), '?')}> instead of <ServiceResponse>"
        )
    return response


def read_int(value: Any, *, what: str) -> int:
    try:
        return int(str(value).strip())
    except ValueError as exc:
        raise QualysResponseError(f"Qualys sent {what} = {value!r}, not a number") from exc
