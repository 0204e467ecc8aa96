"""The generated data set: determinism, realism of the mix, scale."""

from __future__ import annotations

import httpx
import pytest

from connector.simulator import NOW, Criterion, Dataset, Simulator
from connector.simulator.xmlout import cdata

from .helpers import BASE, FINDING_COUNT, FINDING_SEARCH, count, parse, search_body


def test_same_seed_same_data() -> None:
    """Two data sets from the same arguments serve byte-identical pages."""
    a = Simulator(Dataset.generate(webapps=5, findings=300, seed=4))
    b = Simulator(Dataset.generate(webapps=5, findings=300, seed=4))
    bodies = []
    for sim in (a, b):
        client = httpx.Client(
            transport=httpx.WSGITransport(app=sim), base_url=BASE, auth=("sim", "sim")
        )
        bodies.append(client.post(FINDING_SEARCH, content=search_body(limit=300)).content)
    assert bodies[0] == bodies[1]
    assert list(a.dataset.findings()) == list(b.dataset.findings())


def test_different_seed_different_data() -> None:
    """Another seed gives other unique ids and QIDs."""
    a = next(Dataset.generate(webapps=5, findings=50, seed=1).findings())
    b = next(Dataset.generate(webapps=5, findings=50, seed=2).findings())
    assert (a.unique_id, a.qid) != (b.unique_id, b.qid)


def test_records_are_stable_between_reads(dataset: Dataset) -> None:
    """A finding generated twice (lazily) is the same record."""
    fid = dataset.finding_ids()[17]
    assert dataset.finding(fid) == dataset.finding(fid)


def test_the_mix_resembles_real_tenants() -> None:
    """Types, statuses, ignored findings and optional fields occur as real data has them."""
    data = Dataset.generate(webapps=10, findings=3000, seed=5)
    findings = list(data.findings())
    info = [f for f in findings if f.type == "INFORMATION_GATHERED"]
    others = [f for f in findings if f.type != "INFORMATION_GATHERED"]
    assert 0.1 < len(info) / len(findings) < 0.2
    assert all(f.status is None and f.url is None and f.is_ignored is None for f in info)
    assert {f.status for f in others} == {"NEW", "ACTIVE", "REOPENED", "FIXED", "PROTECTED"}
    assert {f.type for f in others} == {"VULNERABILITY", "SENSITIVE_CONTENT"}
    assert any(f.is_ignored for f in others)
    assert {f.ignored_reason for f in others if f.is_ignored} <= {
        "FALSE_POSITIVE",
        "RISK_ACCEPTED",
        "NOT_APPLICABLE",
    }
    assert all(f.fixed_date is not None for f in others if f.status in ("FIXED", "PROTECTED"))
    assert all(f.fixed_date is None for f in others if f.status not in ("FIXED", "PROTECTED"))
    with_cvss = [f for f in others if f.cvss is not None]
    assert 0.5 < len(with_cvss) / len(others) < 0.95
    assert any(not f.history for f in findings) and any(f.history for f in findings)
    assert all(f.last_tested <= NOW and f.first_detected <= f.last_detected for f in findings)
    assert all(1 <= f.severity <= 5 for f in findings)
    kb = data.kb_entries()
    assert any(e.cvss is None for e in kb) and any(e.cvss is not None for e in kb)
    assert len({f.unique_id for f in findings}) == len(findings)


def test_findings_spread_unevenly_over_scanned_webapps() -> None:
    """Findings belong only to scanned web apps, in uneven numbers."""
    data = Dataset.generate(webapps=40, findings=4000, seed=6)
    per_app: dict[int, int] = {}
    for f in data.findings():
        per_app[f.webapp_id] = per_app.get(f.webapp_id, 0) + 1
    scanned = {w.id for w in data.webapps() if w.last_scan is not None}
    assert set(per_app) <= scanned
    assert max(per_app.values()) > 3 * min(per_app.values())


def test_generate_validates_its_arguments() -> None:
    """Impossible sizes are refused."""
    with pytest.raises(ValueError, match="at least one web app"):
        Dataset.generate(webapps=0, findings=5, seed=1)
    with pytest.raises(ValueError, match="qid_pool"):
        Dataset.generate(webapps=1, findings=5, seed=1, qid_pool=4, unknown_qids=3)


def test_empty_tenant() -> None:
    """A tenant without web apps or findings serves empty results."""
    sim = Simulator(Dataset.generate(webapps=0, findings=0, seed=1))
    client = httpx.Client(
        transport=httpx.WSGITransport(app=sim), base_url=BASE, auth=("sim", "sim")
    )
    assert count(client, FINDING_COUNT) == 0
    body = parse(client.post(FINDING_SEARCH, content=search_body()).content)
    assert body["ServiceResponse"]["count"] == "0"


def test_cdata_survives_its_terminator() -> None:
    """cdata() splits ]]> so the text round-trips through a parser."""
    text = "a ]]> b ]]]]> c"
    assert parse(f"<x>{cdata(text)}</x>".encode())["x"] == text


def test_a_quarter_million_findings_build_and_page_cheaply() -> None:
    """250,000 findings generate, count and serve first and last verbose pages of 1000."""
    data = Dataset.generate(webapps=500, findings=250_000, seed=9)
    sim = Simulator(data)
    client = httpx.Client(
        transport=httpx.WSGITransport(app=sim), base_url=BASE, auth=("sim", "sim")
    )
    assert count(client, FINDING_COUNT) == 250_000
    first = parse(client.post(FINDING_SEARCH, content=search_body(limit=1000)).content)
    assert first["ServiceResponse"]["count"] == "1000"
    ids = data.finding_ids()
    last = parse(
        client.post(
            FINDING_SEARCH, content=search_body(("id", "GREATER", str(ids[-1001])), limit=1000)
        ).content
    )["ServiceResponse"]
    assert last["count"] == "1000"
    assert last["hasMoreRecords"] == "false"
    assert last["data"]["Finding"][-1]["id"] == str(ids[-1])


def test_finding_ids_filter_without_generating_records(dataset: Dataset) -> None:
    """finding_ids takes criteria and an isIgnored wish, as cheap id lists for test set-ups."""
    findings = list(dataset.findings())
    active = dataset.finding_ids([Criterion("status", "IN", ("ACTIVE",))])
    assert active == [f.id for f in findings if f.status == "ACTIVE"]
    ignored = dataset.finding_ids(ignored=True)
    assert ignored == [f.id for f in findings if f.is_ignored]
    assert ignored
    assert dataset.finding_ids(ignored=False) == [f.id for f in findings if not f.is_ignored]
    per_app = dataset.finding_counts_by_webapp()
    assert sum(per_app.values()) == len(findings)
    assert per_app == {
        w.id: n for w in dataset.webapps() if (n := sum(f.webapp_id == w.id for f in findings))
    }
