"""The KnowledgeBase endpoint: selection, unknown QIDs, continuation URLs, headers, errors."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest

from connector.simulator import Dataset, Simulator

from .helpers import BASE, KB_HEADERS, KB_PATH, parse


def kb(client: httpx.Client, **params: str) -> httpx.Response:
    return client.post(KB_PATH, headers=KB_HEADERS, data={"action": "list", **params})


def qids_of(response: httpx.Response) -> list[int]:
    body = parse(response.content)["KNOWLEDGE_BASE_VULN_LIST_OUTPUT"]["RESPONSE"]
    return [int(v["QID"]) for v in (body.get("VULN_LIST") or {}).get("VULN", [])]


def test_known_qids_are_returned_and_unknown_ones_silently_omitted(
    client: httpx.Client, dataset: Dataset
) -> None:
    """Asking for known and unknown QIDs returns only the known ones, ascending, HTTP 200."""
    known = [e.qid for e in dataset.kb_entries()][:4]
    asked = [*dataset.unknown_qids, *reversed(known)]
    response = kb(client, details="All", ids=",".join(map(str, asked)))
    assert response.status_code == 200
    assert qids_of(response) == sorted(known)


def test_every_finding_qid_is_in_the_kb_except_the_unknown_ones(dataset: Dataset) -> None:
    """Findings use all the unknown QIDs, and every other QID they use has a KB entry."""
    used = {f.qid for f in dataset.findings()}
    assert set(dataset.unknown_qids) <= used
    assert len(dataset.unknown_qids) == 3
    for qid in used - set(dataset.unknown_qids):
        assert dataset.kb_entry(qid) is not None


def test_id_ranges_and_bounds_select_entries(client: httpx.Client, dataset: Dataset) -> None:
    """ids accepts ranges like 150000-150300; id_min/id_max bound the selection."""
    all_qids = [e.qid for e in dataset.kb_entries()]
    lo, hi = all_qids[2], all_qids[9]
    assert qids_of(kb(client, ids=f"{lo}-{hi}")) == all_qids[2:10]
    assert qids_of(kb(client, id_min=str(lo), id_max=str(hi))) == all_qids[2:10]


def test_details_levels(client: httpx.Client, dataset: Dataset) -> None:
    """details=All carries DIAGNOSIS/CONSEQUENCE/SOLUTION; Basic leaves them out; None only QID."""
    qid = str(dataset.kb_entries()[0].qid)
    for details, expected in (("All", True), ("Basic", False)):
        vuln = parse(kb(client, ids=qid, details=details).content)[
            "KNOWLEDGE_BASE_VULN_LIST_OUTPUT"
        ]["RESPONSE"]["VULN_LIST"]["VULN"][0]
        assert ("DIAGNOSIS" in vuln) is expected
        assert "TITLE" in vuln
    none = parse(kb(client, ids=qid, details="None").content)
    assert set(none["KNOWLEDGE_BASE_VULN_LIST_OUTPUT"]["RESPONSE"]["VULN_LIST"]["VULN"][0]) == {
        "QID"
    }


def test_kb_text_round_trips_through_cdata(client: httpx.Client, dataset: Dataset) -> None:
    """DIAGNOSIS comes back exactly, even when the HTML contains the CDATA terminator ]]>."""
    tricky = next(e for e in dataset.kb_entries() if "]]>" in e.diagnosis)
    vuln = parse(kb(client, ids=str(tricky.qid), details="All").content)[
        "KNOWLEDGE_BASE_VULN_LIST_OUTPUT"
    ]["RESPONSE"]["VULN_LIST"]["VULN"][0]
    assert vuln["DIAGNOSIS"] == tricky.diagnosis
    assert vuln["TITLE"] == tricky.title
    assert vuln["SOLUTION"] == tricky.solution


def test_last_modified_after_selects_changed_entries(
    client: httpx.Client, dataset: Dataset
) -> None:
    """Only entries modified at or after last_modified_after come back."""
    qid = dataset.kb_entries()[3].qid
    dataset.set_kb_modified(qid, datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC))
    assert qids_of(kb(client, last_modified_after="2030-01-01")) == [qid]
    assert qids_of(kb(client, last_modified_after="2030-01-02T03:04:06Z")) == []


def test_continuation_warning_url_fetches_the_rest(dataset: Dataset) -> None:
    """Above kb_max_results a WARNING with a URL is returned; following it yields the rest."""
    sim = Simulator(dataset, kb_max_results=5)
    client = httpx.Client(
        transport=httpx.WSGITransport(app=sim), base_url=BASE, auth=("sim", "sim")
    )
    wanted = [e.qid for e in dataset.kb_entries()][:12]
    response = kb(client, details="All", ids=",".join(map(str, wanted)))
    got: list[int] = []
    urls = []
    while True:
        got += qids_of(response)
        body = parse(response.content)["KNOWLEDGE_BASE_VULN_LIST_OUTPUT"]["RESPONSE"]
        if "WARNING" not in body:
            break
        assert body["WARNING"]["CODE"] == "1980"
        urls.append(body["WARNING"]["URL"])
        response = client.get(body["WARNING"]["URL"], headers=KB_HEADERS)
    assert got == wanted
    assert len(urls) == 2
    assert urls[0].startswith(f"{BASE}/api/2.0/fo/knowledge_base/vuln/?")
    assert sim.stats.calls["kb"] == 3


def test_rate_and_concurrency_headers(client: httpx.Client) -> None:
    """KB answers carry the X-RateLimit-* and X-Concurrency-Limit-* headers."""
    first = kb(client)
    second = kb(client)
    for name in (
        "X-RateLimit-Limit",
        "X-RateLimit-Window-Sec",
        "X-RateLimit-ToWait-Sec",
        "X-Concurrency-Limit-Limit",
        "X-Concurrency-Limit-Running",
    ):
        assert name in first.headers
    assert int(first.headers["X-RateLimit-Remaining"]) - 1 == int(
        second.headers["X-RateLimit-Remaining"]
    )


def test_missing_x_requested_with_is_refused(client: httpx.Client) -> None:
    """A KB call without X-Requested-With gets HTTP 400 and a SIMPLE_RETURN."""
    response = client.post(KB_PATH, data={"action": "list"})
    assert response.status_code == 400
    assert "X-Requested-With" in parse(response.content)["SIMPLE_RETURN"]["RESPONSE"]["TEXT"]


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"action": "list", "bogus": "1"}, "1901"),
        ({"details": "All"}, "1903"),
        ({"action": "list", "details": "Everything"}, "1905"),
        ({"action": "list", "last_modified_after": "yesterday"}, "1905"),
    ],
)
def test_bad_kb_parameters(client: httpx.Client, params: dict[str, str], code: str) -> None:
    """Unknown, missing or malformed KB parameters get HTTP 400 with Qualys' error codes."""
    response = client.post(KB_PATH, headers=KB_HEADERS, data=params)
    assert response.status_code == 400
    assert parse(response.content)["SIMPLE_RETURN"]["RESPONSE"]["CODE"] == code
