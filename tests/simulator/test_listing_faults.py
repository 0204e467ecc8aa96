"""Listing faults: pages that end early, empty endless pages, repeated pages, a hidden web app."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from connector.simulator import Dataset, Fault, FaultKind, Simulator

from .helpers import (
    FINDING_COUNT,
    FINDING_SEARCH,
    WEBAPP_COUNT,
    WEBAPP_SEARCH,
    count,
    page_through,
    parse,
    read_sample,
    search_body,
)


def page(client: httpx.Client, after: str | None = None, limit: int = 50) -> dict[str, object]:
    extra = (("id", "GREATER", after),) if after else ()
    response = client.post(FINDING_SEARCH, content=search_body(*extra, limit=limit))
    assert response.status_code == 200
    body: dict[str, object] = parse(response.content)["ServiceResponse"]
    return body


def ids_of(body: dict[str, object]) -> list[int]:
    data = body.get("data") or {}
    return [int(r["id"]) for r in data.get("Finding", [])]  # type: ignore[union-attr]


def test_ends_early_keeps_the_records_but_says_no_more(
    client: httpx.Client, sim: Simulator, dataset: Dataset
) -> None:
    """ends_early on page 2 answers that page's records with hasMoreRecords=false, no lastId."""
    sim.add_fault(Fault("finding", FaultKind.ENDS_EARLY, on_call=2))
    first = page(client)
    second = page(client, str(first["lastId"]))
    assert second["hasMoreRecords"] == "false"
    assert "lastId" not in second
    assert ids_of(second) == dataset.finding_ids()[50:100]
    assert count(client, FINDING_COUNT) == dataset.finding_count() > 100
    records, _ = page_through(client, FINDING_SEARCH)  # the rule fired once: paging recovers
    assert len(records) == dataset.finding_count()


def test_ends_empty_answers_a_real_empty_search(
    client: httpx.Client, sim: Simulator, samples: Path
) -> None:
    """ends_empty answers exactly the shape of Qualys' empty search although records match."""
    sim.add_fault(Fault("finding", "ends_empty"))
    body = page(client)
    real = parse(read_sample(samples, "search_was_finding_empty.xml"))["ServiceResponse"]
    assert body == real
    assert page(client)["count"] == "50"


def test_endless_empty_pages_claim_more_forever(client: httpx.Client, sim: Simulator) -> None:
    """endless_empty answers empty <data/> pages with hasMoreRecords=true and a rising lastId
    on every later page (every is implied), past the last finding too."""
    fault = sim.add_fault(Fault("finding", FaultKind.ENDLESS_EMPTY, on_call=2))
    assert fault.every
    first = page(client)
    after = str(first["lastId"])
    seen: list[int] = []
    for _ in range(20):  # 20 x 50 > the 400 findings there are
        body = page(client, after)
        assert body["count"] == "0"
        assert body["hasMoreRecords"] == "true"
        assert body["data"] is None
        seen.append(int(body["lastId"]))  # type: ignore[call-overload]
        after = str(body["lastId"])
    assert seen == sorted(set(seen))
    assert fault.fired == 20


def test_endless_empty_raw_shape(client: httpx.Client, sim: Simulator) -> None:
    """The endless empty page is a SUCCESS with count 0, hasMoreRecords, lastId and <data/>."""
    sim.add_fault(Fault("finding", "endless_empty"))
    text = client.post(FINDING_SEARCH, content=search_body(limit=10)).text
    assert "<count>0</count>\n  <hasMoreRecords>true</hasMoreRecords>\n  <lastId>" in text
    assert "<data/>" in text


def test_repeat_page_answers_the_previous_page_again(
    client: httpx.Client, sim: Simulator, dataset: Dataset
) -> None:
    """repeat_page on page 3 answers page 2 again (same records, same lastId): a loop."""
    sim.add_fault(Fault("finding", FaultKind.REPEAT_PAGE, on_call=3, every=True))
    first = page(client)
    second = page(client, str(first["lastId"]))
    third = page(client, str(second["lastId"]))
    assert third == second
    assert ids_of(third) == dataset.finding_ids()[50:100]
    assert page(client, str(third["lastId"])) == second


def test_repeat_page_on_a_first_page_answers_normally(
    client: httpx.Client, sim: Simulator, dataset: Dataset
) -> None:
    """A listing's first page has no previous page to repeat: it is answered as usual."""
    sim.add_fault(Fault("finding", "repeat_page"))
    assert ids_of(page(client)) == dataset.finding_ids()[:50]


def test_repeat_page_repeats_only_the_same_listing(
    client: httpx.Client, sim: Simulator, dataset: Dataset
) -> None:
    """The page repeated is the previous page of the same filters, not of another listing."""
    app = dataset.webapps()[0]
    crit = ("webApp.id", "EQUALS", str(app.id))
    first = parse(client.post(FINDING_SEARCH, content=search_body(crit, limit=5)).content)
    page(client)  # another listing in between
    sim.add_fault(Fault("finding", "repeat_page"))
    after = first["ServiceResponse"]["lastId"]
    again = parse(
        client.post(
            FINDING_SEARCH, content=search_body(crit, ("id", "GREATER", after), limit=5)
        ).content
    )
    assert again == first


@pytest.mark.parametrize("kind", ["ends_early", "ends_empty", "endless_empty", "repeat_page"])
def test_listing_faults_spare_counts_and_gets(
    client: httpx.Client, sim: Simulator, dataset: Dataset, kind: str
) -> None:
    """A listing fault neither counts nor changes count and get calls."""
    fault = sim.add_fault(Fault("any", kind, every=True))
    fid = dataset.finding_ids()[0]
    assert count(client, FINDING_COUNT) == dataset.finding_count()
    got = parse(client.get(f"/qps/rest/3.0/get/was/finding/{fid}").content)
    assert got["ServiceResponse"]["data"]["Finding"][0]["id"] == str(fid)
    assert fault.seen == 0


def test_listing_faults_hit_webapp_searches_too(client: httpx.Client, sim: Simulator) -> None:
    """ends_early on the web app endpoint cuts the web app listing after its first page."""
    sim.add_fault(Fault("webapp", "ends_early"))
    records, pages = page_through(client, WEBAPP_SEARCH, limit=2)
    assert (len(records), pages) == (2, 1)
    assert count(client, WEBAPP_COUNT) == 6


def test_hidden_webapp_is_missing_from_the_listing_only(dataset: Dataset) -> None:
    """A hidden web app is left out of web app searches and counts, while its findings are
    still listed, counted and filterable by webApp.id, and it can still be fetched by id."""
    hidden = dataset.webapps()[2]
    sim = Simulator(dataset, hidden_webapps={hidden.id})
    client = httpx.Client(
        transport=httpx.WSGITransport(app=sim), base_url="http://q.test", auth=("sim", "sim")
    )
    apps, _ = page_through(client, WEBAPP_SEARCH, limit=2)
    assert hidden.id not in {int(a["id"]) for a in apps}
    assert count(client, WEBAPP_COUNT) == len(dataset.webapps()) - 1
    assert count(client, WEBAPP_COUNT, ("id", "EQUALS", str(hidden.id))) == 0
    findings, _ = page_through(client, FINDING_SEARCH, limit=1000)
    assert hidden.id in {int(f["webApp"]["id"]) for f in findings}
    mine = count(client, FINDING_COUNT, ("webApp.id", "EQUALS", str(hidden.id)))
    assert mine == sum(1 for f in dataset.findings() if f.webapp_id == hidden.id) > 0
    got = parse(client.get(f"/qps/rest/3.0/get/was/webapp/{hidden.id}").content)
    assert got["ServiceResponse"]["responseCode"] == "SUCCESS"
    sim.hidden_webapps.clear()
    assert count(client, WEBAPP_COUNT) == len(dataset.webapps())
