"""The decode step for WAS finding search pages: one fast lxml parse into the records mapping reads.

A verbose page of 1,000 findings is a few MB (payloads, evidence, history); building a dict of
every element (xmltodict) costs ~150 ms of CPU a page, lxml's C parser ~20 ms. This step parses
with lxml and keeps only what `connector.mapping` reads, in the same shape the generic decode
(`connector.qualys.decode`) gives: text children as strings, `webApp`, `cvssV3`, `cwe`, `owasp`,
`wasc` and `history` as nested dicts with their repeated elements as lists. `resultList`
(payloads and evidence, most of the bytes) is never converted, and of history entries and OWASP
or WASC references only what the mapping reads (launchedDate, name) is kept.

Safety as in the generic decode: no DTD is loaded, no entity is resolved, no network is touched,
and a document that declares a DOCTYPE is refused outright.
"""

from __future__ import annotations

import io
from typing import Any

from lxml import etree

from connector.qualys.decode import MalformedXmlError, UnsafeXmlError

_OPTIONS: dict[str, bool] = {
    "resolve_entities": False,
    "no_network": True,
    "load_dtd": False,
    "remove_comments": True,
    "remove_pis": True,
    "huge_tree": False,
}

# Containers of one level of text children (webApp's tags are not read by the mapping).
_FLAT = frozenset({"webApp", "cvssV3"})
# container -> the repeated element inside its <list>, of which the mapping reads the name.
_NAMED_LISTS = {"owasp": "OWASP", "wasc": "WASC"}
_SKIPPED = frozenset({"resultList", "retest", "ignoredBy", "comments", "tags"})

Record = dict[str, Any]


def _text(element: Any) -> str | None:
    text = element.text
    if text is None:
        return None
    text = text.strip()
    return text or None


def _children_text(element: Any) -> dict[str, str | None]:
    """The text children of an element (children that have children of their own are left out)."""
    return {child.tag: _text(child) for child in element if not len(child)}


def _child(element: Any, tag: str) -> Any:
    for child in element:
        if child.tag == tag:
            return child
    return None


def _counted(element: Any, item: str, read: Any) -> dict[str, Any]:
    """`<x><count/><list><item/>...</list></x>` as {"count": .., "list": {item: [...]}}."""
    out: dict[str, Any] = {}
    for child in element:
        if child.tag == "count":
            out["count"] = _text(child)
        elif child.tag in ("list", "set"):
            out[child.tag] = {item: [read(entry) for entry in child if entry.tag == item]}
    return out


def _named(entry: Any) -> dict[str, Any]:
    name = _child(entry, "name")
    return {} if name is None else {"name": _text(name)}


def _history_entry(entry: Any) -> dict[str, Any]:
    """A history entry as far as the mapping reads it: its scan's launchedDate."""
    scan = _child(entry, "scanData")
    if scan is None:
        return {}
    launched = _child(scan, "launchedDate")
    return {"scanData": {} if launched is None else {"launchedDate": _text(launched)}}


def _record(finding: Any) -> Record:
    record: Record = {}
    for child in finding:
        tag = child.tag
        if tag in _SKIPPED:
            continue
        if not len(child):
            record[tag] = _text(child)
        elif tag in _FLAT:
            record[tag] = _children_text(child)
        elif tag == "cwe":
            record[tag] = _counted(child, "long", _text)
        elif tag in _NAMED_LISTS:
            record[tag] = _counted(child, _NAMED_LISTS[tag], _named)
        elif tag == "history":
            record[tag] = _counted(child, "WebAppFindingHistory", _history_entry)
    return record


def finding_records(body: bytes, *, source: str = "a finding page") -> list[Record]:
    """The `<Finding>` records of a WAS search answer (a SUCCESS `ServiceResponse`).

    Parsed incrementally, each `<Finding>` dropped once read, so a page's tree (~8x its bytes)
    never exists whole. Raises MalformedXmlError for a body that is not well-formed XML and
    UnsafeXmlError for one that declares a DOCTYPE (hence entities)."""
    if not body or not body.strip():
        raise MalformedXmlError(f"{source} is empty where XML was expected")
    root_at = body.find(b"<ServiceResponse")
    if b"<!DOCTYPE" in body[: root_at if root_at >= 0 else len(body)]:
        raise UnsafeXmlError(f"{source} declares a DOCTYPE, which the connector refuses")
    records: list[Record] = []
    events = etree.iterparse(io.BytesIO(body), events=("end",), tag="Finding", **_OPTIONS)
    try:
        for _event, finding in events:
            parent = finding.getparent()
            if parent is not None and parent.tag == "data":
                records.append(_record(finding))
            finding.clear()
            while parent is not None and finding.getprevious() is not None:
                del parent[0]
    except etree.XMLSyntaxError as exc:
        raise MalformedXmlError(f"{source} is not well-formed XML ({exc})") from exc
    return records
