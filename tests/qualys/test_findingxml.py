"""The fast finding-page decode gives exactly what the generic decode gives for every field the
mapping reads: on the recorded page, on simulator pages (verbose and brief), and on edge shapes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from connector.mapping import map_finding
from connector.qualys.decode import MalformedXmlError, UnsafeXmlError, as_list, decode
from connector.qualys.findingxml import finding_records
from connector.qualys.requests import Criterion, service_request
from connector.simulator import Dataset, Simulator
from tests.qualys.test_decode import ONE_FINDING, TWO_FINDINGS

CONTAINERS = {"webApp", "cvssV3", "cwe", "owasp", "wasc", "history"}


def generic_records(body: bytes) -> list[dict[str, Any]]:
    """The records as the generic (xmltodict) decode gives them, limited to what the mapping reads."""
    data = decode(body)["ServiceResponse"].get("data")
    records = as_list(data.get("Finding")) if isinstance(data, dict) else []
    out = []
    for record in records:
        kept = {}
        for key, value in record.items():
            if key in ("webApp", "cvssV3") and isinstance(value, dict):
                kept[key] = {k: v for k, v in value.items() if not isinstance(v, dict)}
            elif key in ("owasp", "wasc") and isinstance(value, dict) and "list" in value:
                (item,) = value["list"]
                names = [{"name": e["name"]} if "name" in e else {} for e in value["list"][item]]
                kept[key] = {**value, "list": {item: names}}
            elif key == "history" and isinstance(value, dict) and "set" in value:
                entries = [
                    {"scanData": {k: v for k, v in e["scanData"].items() if k == "launchedDate"}}
                    if "scanData" in e
                    else {}
                    for e in value["set"]["WebAppFindingHistory"]
                ]
                kept[key] = {**value, "set": {"WebAppFindingHistory": entries}}
            elif key in CONTAINERS or not isinstance(value, dict):
                kept[key] = value
        out.append(kept)
    return out


def simulator_page(verbose: bool) -> bytes:
    dataset = Dataset.generate(webapps=5, findings=400, seed=3)
    sim = Simulator(dataset, username="u", password="p")
    with httpx.Client(
        transport=httpx.WSGITransport(app=sim), base_url="http://q", auth=("u", "p")
    ) as http:
        body = service_request(
            [Criterion("type", "IN", "VULNERABILITY,SENSITIVE_CONTENT,INFORMATION_GATHERED")],
            verbose=verbose,
            limit_results=1000,
        )
        return http.post("/qps/rest/3.0/search/was/finding", content=body).content


def test_recorded_page_decodes_like_the_generic_decode(samples: Path) -> None:
    """The recorded 86-finding page: the same 86 records, field for field."""
    body = (samples / "search_was_finding_86.xml").read_bytes()
    fast = finding_records(body)
    assert len(fast) == 86
    assert fast == generic_records(body)


def test_recorded_empty_page_has_no_records(samples: Path) -> None:
    """The recorded empty search (no data element) decodes to no records."""
    assert finding_records((samples / "search_was_finding_empty.xml").read_bytes()) == []


@pytest.mark.parametrize("verbose", [True, False], ids=["verbose", "brief"])
def test_simulator_pages_decode_like_the_generic_decode(verbose: bool) -> None:
    """Verbose pages (history, CVSS, classifications, payloads) and brief pages decode alike."""
    body = simulator_page(verbose)
    fast = finding_records(body)
    assert len(fast) > 300
    assert fast == generic_records(body)
    if verbose:
        assert any(r.get("history") and r.get("cvssV3") for r in fast)
        assert all("resultList" not in r for r in fast)


@pytest.mark.parametrize("body", [ONE_FINDING, TWO_FINDINGS], ids=["one", "two"])
def test_single_and_repeated_elements_have_the_list_shape(body: bytes) -> None:
    """One <long>, one <OWASP> or one history entry is a list of one, as with several."""
    assert finding_records(body) == generic_records(body)


def test_mapping_gives_the_same_findings_from_both_decodes() -> None:
    """What the sync stores does not depend on which decode read the page."""
    body = simulator_page(verbose=True)
    kwargs: dict[str, Any] = {"kb_cvss": {}, "severity_fallback": {}}
    fast = [map_finding(r, **kwargs) for r in finding_records(body)]
    generic = [map_finding(r, **kwargs) for r in generic_records(body)]
    assert fast == generic


def test_comments_and_cdata_are_read_as_text() -> None:
    """Comments anywhere are ignored and CDATA is text, trimmed as the generic decode trims it."""
    body = (
        b"<ServiceResponse><responseCode>SUCCESS</responseCode><!-- keep-alive --><data>"
        b"<Finding><!-- c --><id> 7 </id><name><![CDATA[ a <b> & c ]]></name><param/></Finding>"
        b"</data></ServiceResponse>"
    )
    assert finding_records(body) == [{"id": "7", "name": "a <b> & c", "param": None}]
    assert finding_records(body) == generic_records(body)


def test_a_doctype_is_refused_and_no_entity_is_expanded() -> None:
    """A document declaring entities (an expansion bomb) is refused before any record is read."""
    bomb = (
        b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;">]>'
        b"<ServiceResponse><data><Finding><id>1</id><name>&b;</name></Finding></data>"
        b"</ServiceResponse>"
    )
    with pytest.raises(UnsafeXmlError):
        finding_records(bomb)


@pytest.mark.parametrize(
    "body",
    [b"", b"   ", b"<ServiceResponse><data><Finding><id>1</id>", b"\xff\xfe<x/>"],
    ids=["empty", "blank", "truncated", "garbage"],
)
def test_broken_bodies_are_malformed(body: bytes) -> None:
    """Empty, truncated or garbled bodies raise MalformedXmlError (worth asking again)."""
    with pytest.raises(MalformedXmlError):
        finding_records(body)
