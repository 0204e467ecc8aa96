"""The cheap read of a SUCCESS search page's paging, and the raw-page path through the client."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from connector.config import Secret, config_for_tests
from connector.qualys.client import QualysClient
from connector.qualys.decode import PageHead, success_page_head
from connector.qualys.pages import decode_page
from connector.simulator import Dataset, Simulator

HAS_MORE = b"""<?xml version="1.0" encoding="UTF-8"?>
<ServiceResponse xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
  <responseCode>SUCCESS</responseCode>
  <count>1</count>
  <hasMoreRecords>true</hasMoreRecords>
  <lastId>42</lastId>
  <data><Finding><id>42</id></Finding></data>
</ServiceResponse>"""


def test_reads_has_more_and_last_id_of_a_success_page() -> None:
    """A well-formed SUCCESS page yields hasMoreRecords and lastId without a full decode."""
    assert success_page_head(HAS_MORE) == PageHead(has_more=True, last_id=42)


def test_reads_the_last_page_and_an_empty_page() -> None:
    """A last page has no more records and an empty answer has neither flag nor lastId."""
    last = HAS_MORE.replace(b"true", b"false").replace(b"  <lastId>42</lastId>\n", b"")
    assert success_page_head(last) == PageHead(has_more=False, last_id=None)
    empty = (
        b"<ServiceResponse><responseCode>SUCCESS</responseCode><count>0</count></ServiceResponse>"
    )
    assert success_page_head(empty) == PageHead(has_more=False, last_id=None)


@pytest.mark.parametrize(
    "body",
    [
        HAS_MORE[:-40],  # truncated
        HAS_MORE.replace(b"SUCCESS", b"INVALID_CREDENTIALS"),
        HAS_MORE.replace(b"<count>", b"<!-- keep-alive --><count>"),  # unusual layout
        HAS_MORE.replace(b"<lastId>42", b"<lastId>-1"),
        HAS_MORE.replace(b"true", b"TRUE"),
        HAS_MORE.replace(b"</data>", b"</data><responseCode>SUCCESS</responseCode>"),
        HAS_MORE.replace(b"<ServiceResponse", b'<!DOCTYPE x [<!ENTITY a "b">]><ServiceResponse'),
        b"<html><body>maintenance</body></html>",
        b"",
    ],
)
def test_anything_unusual_is_left_to_the_full_decode(body: bytes) -> None:
    """Truncated, failed, oddly laid out or entity-declaring bodies are never read cheaply."""
    assert success_page_head(body) is None


def test_shared_samples_agree_with_the_full_decode(samples: Path) -> None:
    """For every recorded search answer the cheap read gives what the decoded document says."""
    for sample in sorted(samples.glob("search_was_*.xml")):
        body = sample.read_bytes()
        head = success_page_head(body)
        if head is None:
            continue
        text = body.decode()
        assert head.has_more == ("<hasMoreRecords>true" in text), sample.name
        assert (head.last_id is not None) == ("<lastId>" in text), sample.name


def test_raw_pages_decode_to_the_same_pages() -> None:
    """iter_finding_raw_pages + decode_page gives exactly the pages iter_finding_pages gives."""
    sim = Simulator(Dataset.generate(webapps=4, findings=120, seed=3), username="u", password="p")
    settings = config_for_tests(
        qualys={"api_url": "http://qualys.test", "username": "u", "password": Secret("p")}
    ).qualys
    with QualysClient(settings, transport=httpx.WSGITransport(app=sim)) as client:
        raws = list(client.iter_finding_raw_pages(page_size=50))
        pages = list(client.iter_finding_pages(page_size=50))
    assert [r.body is not None for r in raws] == [True] * len(raws)
    assert [decode_page(r) for r in raws] == pages
    assert [(p.has_more, p.number) for p in pages] == [(True, 1), (True, 2), (False, 3)]
