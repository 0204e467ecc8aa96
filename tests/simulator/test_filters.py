"""The filters an incremental sync uses: id ranges and lists, dates, ANDed, with Qualys' errors."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

import httpx
import pytest

from connector.simulator import NOW, Dataset, FindingRecord, Simulator

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

DATE_FIELDS: dict[str, Callable[[FindingRecord], datetime | None]] = {
    "firstDetectedDate": lambda f: f.first_detected,
    "lastDetectedDate": lambda f: f.last_detected,
    "lastTestedDate": lambda f: f.last_tested,
    "ignoredDate": lambda f: f.ignored_date,
    "fixedDate": lambda f: f.fixed_date,
    "updatedDate": lambda f: f.updated_date,
}


def qualys(value: datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


def listed(client: httpx.Client, *criteria: tuple[str, str, str], limit: int = 1000) -> list[int]:
    records, _ = page_through(client, FINDING_SEARCH, *criteria, limit=limit, verbose=False)
    return [int(r["id"]) for r in records]


def test_id_greater_and_lesser_combine_into_a_range(client: httpx.Client, dataset: Dataset) -> None:
    """id GREATER a AND id LESSER b selects the ids strictly between a and b."""
    ids = dataset.finding_ids()
    crit = (("id", "GREATER", str(ids[40])), ("id", "LESSER", str(ids[90])))
    assert listed(client, *crit, limit=7) == ids[41:90]
    assert count(client, FINDING_COUNT, *crit) == 49


def test_keyset_paging_inside_an_id_in_batch(client: httpx.Client, dataset: Dataset) -> None:
    """id IN x,y,z AND id GREATER c (keyset paging through one IN batch) keeps order and ends."""
    ids = dataset.finding_ids()
    batch = ids[3:300:7]
    records, pages = page_through(
        client, FINDING_SEARCH, ("id", "IN", ",".join(map(str, reversed(batch)))), limit=10
    )
    assert [int(r["id"]) for r in records] == batch
    assert pages == -(-len(batch) // 10)


def test_id_in_ignores_unknown_ids_and_intersects_with_equals(
    client: httpx.Client, dataset: Dataset
) -> None:
    """Unknown ids in an IN list match nothing; IN and EQUALS together keep the common id."""
    ids = dataset.finding_ids()
    assert listed(client, ("id", "IN", f"1,{ids[2]},{ids[9]}")) == [ids[2], ids[9]]
    both = (("id", "IN", f"{ids[2]},{ids[9]}"), ("id", "EQUALS", str(ids[9])))
    assert listed(client, *both) == [ids[9]]
    assert listed(client, ("id", "IN", str(ids[2])), ("id", "EQUALS", str(ids[9]))) == []


def test_id_not_equals(client: httpx.Client, dataset: Dataset) -> None:
    """id NOT EQUALS leaves out exactly that id."""
    ids = dataset.finding_ids()
    assert listed(client, ("id", "NOT EQUALS", str(ids[4]))) == ids[:4] + ids[5:]


def test_a_thousand_ids_in_one_in_list(dataset: Dataset) -> None:
    """An id IN list of 1,000 ids (mixed with unknown ones) selects exactly the known ones."""
    data = Dataset.generate(webapps=10, findings=3000, seed=2, qid_pool=40)
    sim = Simulator(data)
    client = httpx.Client(
        transport=httpx.WSGITransport(app=sim), base_url="http://q.test", auth=("sim", "sim")
    )
    ids = data.finding_ids()
    wanted = ids[::3][:990]
    values = [*wanted, *range(1, 11)]
    crit = ("id", "IN", ",".join(map(str, values)))
    assert listed(client, crit) == wanted
    assert count(client, FINDING_COUNT, crit) == 990


@pytest.mark.parametrize("field", sorted(DATE_FIELDS))
@pytest.mark.parametrize("operator", ["GREATER", "LESSER"])
def test_date_filters_are_strict_and_skip_absent_dates(
    client: httpx.Client, dataset: Dataset, field: str, operator: str
) -> None:
    """Each date field GREATER / LESSER a date selects the findings whose date is strictly after
    / before it; a finding without that date (no fixedDate, no ignoredDate) never matches."""
    getter = DATE_FIELDS[field]
    present = sorted({d for f in dataset.findings() if (d := getter(f)) is not None})
    pivot = present[len(present) // 2]
    if operator == "GREATER":
        expected = [f.id for f in dataset.findings() if (d := getter(f)) and d > pivot]
    else:
        expected = [f.id for f in dataset.findings() if (d := getter(f)) and d < pivot]
    crit = (field, operator, qualys(pivot))
    assert listed(client, crit, limit=25) == expected
    assert count(client, FINDING_COUNT, crit) == len(expected)
    assert 0 < len(expected) < dataset.finding_count()


def test_dates_combine_with_webapp_status_and_keyset(
    client: httpx.Client, dataset: Dataset
) -> None:
    """A date window AND webApp.id IN AND status IN AND id GREATER are all ANDed."""
    apps = [w.id for w in dataset.webapps()[:3]]
    low, high = NOW - timedelta(days=200), NOW - timedelta(days=20)
    findings = list(dataset.findings())
    after = findings[30].id
    expected = [
        f.id
        for f in findings
        if low < f.first_detected < high
        and f.webapp_id in apps
        and f.status in ("ACTIVE", "REOPENED")
        and f.id > after
    ]
    crit = (
        ("firstDetectedDate", "GREATER", qualys(low)),
        ("firstDetectedDate", "LESSER", qualys(high)),
        ("webApp.id", "IN", ",".join(map(str, apps))),
        ("status", "IN", "ACTIVE,REOPENED"),
        ("id", "GREATER", str(after)),
    )
    assert expected
    assert listed(client, *crit, limit=9) == expected
    assert count(client, FINDING_COUNT, *crit) == len(expected)


def test_date_filters_see_mutations(client: httpx.Client, dataset: Dataset) -> None:
    """After retests, fixes and triage, date filters select the changed findings (the index
    is kept right), also once so many changed that it is rebuilt."""
    when = NOW + timedelta(hours=3)
    ids = dataset.finding_ids()
    open_ids = [f.id for f in dataset.findings() if f.status in ("NEW", "ACTIVE", "REOPENED")]
    dataset.retest_finding(ids[0], when)
    dataset.fix_finding(open_ids[5], when + timedelta(minutes=1))
    dataset.set_finding_ignored(open_ids[6], "FALSE_POSITIVE", when + timedelta(minutes=2))
    since = ("lastTestedDate", "GREATER", qualys(NOW))
    assert listed(client, since) == sorted([ids[0], open_ids[5]])
    assert listed(client, ("updatedDate", "GREATER", qualys(NOW))) == sorted(
        [ids[0], open_ids[5], open_ids[6]]
    )
    assert listed(client, ("fixedDate", "GREATER", qualys(when))) == [open_ids[5]]
    assert listed(client, ("ignoredDate", "GREATER", qualys(when))) == [open_ids[6]]
    many = NOW + timedelta(days=2)
    for fid in ids[100:300]:
        dataset.retest_finding(fid, many)
    assert (
        listed(client, ("lastTestedDate", "GREATER", qualys(many - timedelta(seconds=1))))
        == (ids[100:300])
    )


def test_date_of_an_added_finding_is_filtered(client: httpx.Client, dataset: Dataset) -> None:
    """A finding added after the index was built is found by a date filter."""
    crit = ("firstDetectedDate", "GREATER", qualys(NOW))
    assert listed(client, crit) == []
    added = dataset.add_finding(dataset.webapps()[0].id, when=NOW + timedelta(hours=1))
    assert listed(client, crit) == [added.id]


@pytest.mark.parametrize(
    ("criteria", "message"),
    [
        (("lastTestedDate", "GREATER", "2024-06-01"), "Invalid value format"),
        (("lastTestedDate", "GREATER", "2024-06-01T00:00:00"), "Invalid value format"),
        (("fixedDate", "LESSER", "yesterday"), "Invalid value format"),
        (("lastTestedDate", "EQUALS", "2024-06-01T00:00:00Z"), "Operator 'EQUALS'"),
        (("ignoredDate", "IN", "2024-06-01T00:00:00Z"), "Operator 'IN'"),
        (("isIgnored", "EQUALS", "true"), "Invalid field name 'isIgnored'"),
        (("id", "CONTAINS", "5"), "Operator 'CONTAINS'"),
        (("id", "IN", "1,x"), "Invalid value format for criteria 'id' (x)"),
    ],
)
def test_unsupported_filters_are_invalid_requests(
    client: httpx.Client, criteria: tuple[str, str, str], message: str
) -> None:
    """Malformed dates, unsupported operators and undocumented fields are INVALID_REQUEST."""
    for path in (FINDING_SEARCH, FINDING_COUNT):
        body = parse(client.post(path, content=search_body(criteria)).content)["ServiceResponse"]
        assert body["responseCode"] == "INVALID_REQUEST"
        assert message in body["responseErrorDetails"]["errorMessage"]


def test_updated_date_filter_can_be_refused(dataset: Dataset) -> None:
    """With updated_date_filter=False, updatedDate is an unknown field (as it may be on Qualys)."""
    sim = Simulator(dataset, updated_date_filter=False)
    client = httpx.Client(
        transport=httpx.WSGITransport(app=sim), base_url="http://q.test", auth=("sim", "sim")
    )
    crit = ("updatedDate", "GREATER", "2024-01-01T00:00:00Z")
    body = parse(client.post(FINDING_SEARCH, content=search_body(crit)).content)
    assert body["ServiceResponse"]["responseCode"] == "INVALID_REQUEST"
    assert "'updatedDate'" in body["ServiceResponse"]["responseErrorDetails"]["errorMessage"]
    assert count(client, FINDING_COUNT, ("lastTestedDate", "GREATER", "2024-01-01T00:00:00Z"))


@pytest.mark.parametrize("operator", ["GREATER", "LESSER", "IN"])
def test_webapp_id_filters(client: httpx.Client, dataset: Dataset, operator: str) -> None:
    """Web app search and count take id GREATER, LESSER and IN, and combine them."""
    apps = [w.id for w in dataset.webapps()]
    value, expected = {
        "GREATER": (str(apps[1]), apps[2:]),
        "LESSER": (str(apps[3]), apps[:3]),
        "IN": (f"{apps[4]},{apps[0]}", [apps[0], apps[4]]),
    }[operator]
    records, _ = page_through(client, WEBAPP_SEARCH, ("id", operator, value), limit=1)
    assert [int(r["id"]) for r in records] == expected
    assert count(client, WEBAPP_COUNT, ("id", operator, value)) == len(expected)
    window = (("id", "GREATER", str(apps[0])), ("id", "LESSER", str(apps[3])))
    assert count(client, WEBAPP_COUNT, *window) == 2


def test_filters_at_a_quarter_million_findings() -> None:
    """At 250,000 findings an id IN batch of 1,000 and a date window answer exactly."""
    data = Dataset.generate(webapps=500, findings=250_000, seed=9, qid_pool=60)
    sim = Simulator(data)
    client = httpx.Client(
        transport=httpx.WSGITransport(app=sim), base_url="http://q.test", auth=("sim", "sim")
    )
    ids = data.finding_ids()
    batch = ids[1000:250_000:249][:1000]
    crit = ("id", "IN", ",".join(map(str, batch)))
    answer = client.post(FINDING_SEARCH, content=search_body(crit, limit=1000, verbose=False))
    body = parse(answer.content)
    assert [int(f["id"]) for f in body["ServiceResponse"]["data"]["Finding"]] == batch
    changed = ids[5000:5600]
    for fid in changed:
        data.retest_finding(fid, NOW + timedelta(hours=1))
    since = ("lastTestedDate", "GREATER", qualys(NOW))
    assert count(client, FINDING_COUNT, since) == 600
    records, pages = page_through(client, FINDING_SEARCH, since, limit=250, verbose=False)
    assert ([int(r["id"]) for r in records], pages) == (changed, 3)
