"""QualysClient against the project's Qualys simulator (in process, through httpx.WSGITransport)."""

from __future__ import annotations

import httpx
import pytest

from connector.config import Secret
from connector.errors import QualysAuthError
from connector.qualys import QualysClient
from connector.simulator.app import Simulator
from connector.simulator.dataset import Dataset
from qualys.fakes import settings


@pytest.fixture(scope="module")
def dataset() -> Dataset:
    return Dataset.generate(webapps=12, findings=900, seed=7)


def client_for(sim: Simulator, password: str = "sim") -> QualysClient:
    return QualysClient(
        settings(api_url="http://simulator.test", username="sim", password=Secret(password)),
        transport=httpx.WSGITransport(app=sim),
        sleep=lambda _s: None,
    )


def test_keyset_paging_returns_every_finding_once(dataset: Dataset) -> None:
    """Paging 900 findings 100 at a time yields each id once, ascending, matching the count."""
    with client_for(Simulator(dataset)) as client:
        ids = [
            int(record["id"])
            for page in client.iter_finding_pages(verbose=False, page_size=100)
            for record in page.records
        ]
        assert len(ids) == client.count_findings() == 900
    assert ids == sorted(set(ids))


def test_kb_lookup_follows_the_simulators_warning_urls(dataset: Dataset) -> None:
    """A KB that answers 40 entries at a time is followed to the end; unknown QIDs are reported."""
    with client_for(Simulator(dataset, kb_max_results=40)) as client:
        qids = sorted(
            {int(r["qid"]) for p in client.iter_finding_pages(verbose=False) for r in p.records}
        )
        result = client.kb_lookup(qids)
    assert result.calls > len(qids) // 300 + 1  # continuations were followed
    assert {int(v["QID"]) for v in result.vulns} | result.unknown == set(qids)


def test_wrong_password_is_refused_in_words(dataset: Dataset) -> None:
    """The simulator's HTTP 200 INVALID_CREDENTIALS becomes a QualysAuthError naming the user."""
    with (
        client_for(Simulator(dataset), password="wrong") as client,
        pytest.raises(QualysAuthError, match="rejected the credentials for user sim"),
    ):
        client.portal_version()
