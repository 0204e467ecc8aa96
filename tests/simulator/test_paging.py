"""Keyset paging, filters and counts over the generated tenant."""

from __future__ import annotations

import httpx
import pytest

from connector.simulator import Dataset

from .helpers import (
    FINDING_COUNT,
    FINDING_SEARCH,
    WEBAPP_COUNT,
    WEBAPP_SEARCH,
    count,
    page_through,
    parse,
    search_body,
)


@pytest.mark.parametrize("limit", [1, 7, 100, 399, 400, 1000])
def test_paging_visits_every_finding_once_in_ascending_order(
    client: httpx.Client, dataset: Dataset, limit: int
) -> None:
    """Following lastId with id GREATER returns each finding exactly once, ascending."""
    records, pages = page_through(client, FINDING_SEARCH, limit=limit)
    ids = [int(r["id"]) for r in records]
    assert ids == sorted(set(ids))
    assert ids == dataset.finding_ids()
    assert pages == max(1, -(-len(ids) // limit))


@pytest.mark.parametrize("limit", [1, 4, 6, 50])
def test_paging_visits_every_webapp_once(
    client: httpx.Client, dataset: Dataset, limit: int
) -> None:
    """Web app keyset paging returns each web app exactly once, ascending."""
    records, _ = page_through(client, WEBAPP_SEARCH, limit=limit)
    assert [int(r["id"]) for r in records] == [w.id for w in dataset.webapps()]


def test_default_page_size_is_100(client: httpx.Client) -> None:
    """Without limitResults a page holds 100 records."""
    body = parse(client.post(FINDING_SEARCH, content=b"").content)["ServiceResponse"]
    assert body["count"] == "100"
    assert body["hasMoreRecords"] == "true"


@pytest.mark.parametrize("limit", ["0", "1001", "ten"])
def test_limit_outside_1_to_1000_is_an_invalid_request(client: httpx.Client, limit: str) -> None:
    """limitResults must be 1..1000; anything else is INVALID_REQUEST with HTTP 200."""
    body = f"<ServiceRequest><preferences><limitResults>{limit}</limitResults></preferences>"
    response = client.post(FINDING_SEARCH, content=(body + "</ServiceRequest>").encode())
    assert response.status_code == 200
    assert parse(response.content)["ServiceResponse"]["responseCode"] == "INVALID_REQUEST"


def test_type_filter_leaves_out_information_gathered(
    client: httpx.Client, dataset: Dataset
) -> None:
    """type IN VULNERABILITY,SENSITIVE_CONTENT returns exactly the non-informational findings."""
    crit = ("type", "IN", "VULNERABILITY,SENSITIVE_CONTENT")
    records, _ = page_through(client, FINDING_SEARCH, crit, limit=50)
    expected = [f.id for f in dataset.findings() if f.type != "INFORMATION_GATHERED"]
    assert [int(r["id"]) for r in records] == expected
    assert count(client, FINDING_COUNT, crit) == len(expected)
    assert 0 < len(expected) < dataset.finding_count()


def test_status_and_webapp_filters_combine(client: httpx.Client, dataset: Dataset) -> None:
    """status IN plus webApp.id EQUALS are ANDed, and the count agrees with the search."""
    webapp = max(
        dataset.webapps(), key=lambda w: sum(1 for f in dataset.findings() if f.webapp_id == w.id)
    )
    crit = (("status", "IN", "NEW,ACTIVE,REOPENED"), ("webApp.id", "EQUALS", str(webapp.id)))
    records, _ = page_through(client, FINDING_SEARCH, *crit, limit=10)
    expected = [
        f.id
        for f in dataset.findings()
        if f.webapp_id == webapp.id and f.status in ("NEW", "ACTIVE", "REOPENED")
    ]
    assert expected
    assert [int(r["id"]) for r in records] == expected
    assert count(client, FINDING_COUNT, *crit) == len(expected)


@pytest.mark.parametrize(
    ("field", "operator", "pick"),
    [
        ("id", "EQUALS", lambda ids: [ids[5]]),
        ("id", "IN", lambda ids: [ids[1], ids[3], ids[8]]),
        ("id", "LESSER", lambda ids: [i for i in ids if i < ids[20]]),
        ("id", "GREATER", lambda ids: [i for i in ids if i > ids[-20]]),
    ],
)
def test_id_filters(
    client: httpx.Client, dataset: Dataset, field: str, operator: str, pick: object
) -> None:
    """id EQUALS / IN / LESSER / GREATER select exactly the expected findings."""
    ids = dataset.finding_ids()
    wanted = pick(ids)  # type: ignore[operator]
    value = {
        "EQUALS": str(ids[5]),
        "IN": ",".join(str(i) for i in wanted),
        "LESSER": str(ids[20]),
        "GREATER": str(ids[-20]),
    }[operator]
    records, _ = page_through(client, FINDING_SEARCH, (field, operator, value), limit=1000)
    assert [int(r["id"]) for r in records] == wanted


def test_qid_and_webapp_in_filters(client: httpx.Client, dataset: Dataset) -> None:
    """qid IN and webApp.id IN select the findings of those QIDs on those web apps."""
    findings = list(dataset.findings())
    qids = sorted({f.qid for f in findings})[:5]
    apps = [w.id for w in dataset.webapps()][:3]
    crit = (("qid", "IN", ",".join(map(str, qids))), ("webApp.id", "IN", ",".join(map(str, apps))))
    records, _ = page_through(client, FINDING_SEARCH, *crit, limit=1000)
    expected = [f.id for f in findings if f.qid in qids and f.webapp_id in apps]
    assert [int(r["id"]) for r in records] == expected
    assert count(client, FINDING_COUNT, *crit) == len(expected)


def test_counts_equal_search_totals(client: httpx.Client, dataset: Dataset) -> None:
    """Unfiltered counts equal the number of records paging returns."""
    findings, _ = page_through(client, FINDING_SEARCH, limit=1000)
    webapps, _ = page_through(client, WEBAPP_SEARCH, limit=1000)
    assert count(client, FINDING_COUNT) == len(findings) == dataset.finding_count()
    assert count(client, WEBAPP_COUNT) == len(webapps) == len(dataset.webapps())


def test_webapp_filters(client: httpx.Client, dataset: Dataset) -> None:
    """Web app id IN and name CONTAINS select the expected web apps."""
    apps = dataset.webapps()
    records, _ = page_through(client, WEBAPP_SEARCH, ("id", "IN", f"{apps[0].id},{apps[2].id}"))
    assert [int(r["id"]) for r in records] == [apps[0].id, apps[2].id]
    records, _ = page_through(client, WEBAPP_SEARCH, ("url", "CONTAINS", "shop"))
    assert [int(r["id"]) for r in records] == [w.id for w in apps if "shop" in w.url]


@pytest.mark.parametrize(
    ("field", "operator", "value", "message"),
    [
        ("lastScan.status", "EQUALS", "x", "Invalid field name 'lastScan.status'"),
        ("id", "CONTAINS", "1", "Operator 'CONTAINS' is not supported"),
        ("webApp.id", "EQUALS", "abc", "Invalid value format for criteria 'webApp.id' (abc)"),
        ("status", "IN", "NEW,BOGUS", "Invalid value for criteria 'status' (BOGUS)"),
    ],
)
def test_bad_criteria_are_invalid_requests(
    client: httpx.Client, field: str, operator: str, value: str, message: str
) -> None:
    """Unknown fields, operators and malformed values come back as INVALID_REQUEST with HTTP 200."""
    response = client.post(FINDING_SEARCH, content=search_body((field, operator, value)))
    body = parse(response.content)["ServiceResponse"]
    assert response.status_code == 200
    assert body["responseCode"] == "INVALID_REQUEST"
    assert message in body["responseErrorDetails"]["errorMessage"]


def test_get_webapp_returns_the_verbose_record(client: httpx.Client, dataset: Dataset) -> None:
    """GET get/was/webapp/<id> returns one verbose WebApp; an unknown id is NOT_FOUND."""
    app = dataset.webapps()[1]
    body = parse(client.get(f"/qps/rest/3.0/get/was/webapp/{app.id}").content)["ServiceResponse"]
    assert body["count"] == "1"
    assert body["data"]["WebApp"][0]["id"] == str(app.id)
    assert "attributes" in body["data"]["WebApp"][0]
    missing = parse(client.get("/qps/rest/3.0/get/was/webapp/1").content)["ServiceResponse"]
    assert missing["responseCode"] == "NOT_FOUND"


def test_webapp_fields_reflect_the_dataset(client: httpx.Client, dataset: Dataset) -> None:
    """Rendered web app tags, attributes and last scan equal the data set's record."""
    app = next(w for w in dataset.webapps() if w.tags and w.attributes and w.last_scan)
    body = parse(client.get(f"/qps/rest/3.0/get/was/webapp/{app.id}").content)
    rendered = body["ServiceResponse"]["data"]["WebApp"][0]
    tags = rendered["tags"]["list"]["Tag"]
    tags = [tags] if isinstance(tags, dict) else tags
    assert [(int(t["id"]), t["name"]) for t in tags] == [(t.id, t.name) for t in app.tags]
    attrs = rendered["attributes"]["list"]["Attribute"]
    attrs = [attrs] if isinstance(attrs, dict) else attrs
    assert [(a["name"], a["value"]) for a in attrs] == list(app.attributes)
    assert app.last_scan is not None
    assert rendered["lastScan"]["date"] == app.last_scan.date.strftime("%Y-%m-%dT%H:%M:%SZ")
