"""Fault injection: each kind, which call it hits, and that it clears."""

from __future__ import annotations

import threading

import httpx
import pytest
import xmltodict

from connector.simulator import Fault, FaultKind, Simulator

from .helpers import FINDING_COUNT, FINDING_SEARCH, KB_HEADERS, KB_PATH, WEBAPP_SEARCH, search_body


def finding_page(client: httpx.Client) -> httpx.Response:
    return client.post(FINDING_SEARCH, content=search_body(limit=50))


def test_on_call_and_times_pick_the_failing_calls(client: httpx.Client, sim: Simulator) -> None:
    """on_call=2, times=2 fails the 2nd and 3rd matching calls only; other endpoints are spared."""
    fault = sim.add_fault(Fault("finding", FaultKind.HTTP_503, on_call=2, times=2))
    statuses = [finding_page(client).status_code for _ in range(5)]
    assert statuses == [200, 503, 503, 200, 200]
    assert client.post(WEBAPP_SEARCH, content=search_body()).status_code == 200
    assert fault.seen == 5
    assert fault.fired == 2
    assert sim.stats.faults_fired == 2


def test_every_fails_all_calls_until_cleared(client: httpx.Client, sim: Simulator) -> None:
    """every=True fails every matching call; clear_faults restores normal answers."""
    sim.add_fault(Fault("any", "http_503", every=True))
    assert {finding_page(client).status_code for _ in range(3)} == {503}
    assert client.get("/qps/rest/portal/version").status_code == 503
    sim.clear_faults()
    assert finding_page(client).status_code == 200


def test_every_from_a_given_call(client: httpx.Client, sim: Simulator) -> None:
    """on_call=3 with every=True lets two calls through and fails all later ones."""
    sim.add_fault(Fault("finding", "http_503", on_call=3, every=True))
    assert [finding_page(client).status_code for _ in range(5)] == [200, 200, 503, 503, 503]


def test_count_endpoint_fault_spares_searches(client: httpx.Client, sim: Simulator) -> None:
    """A `count` fault hits the count endpoints, not the searches."""
    sim.add_fault(Fault("count", "http_503", every=True))
    assert client.post(FINDING_COUNT, content=search_body()).status_code == 503
    assert finding_page(client).status_code == 200


def test_409_1960_concurrency(client: httpx.Client, sim: Simulator) -> None:
    """http_409_1960 answers 409 with SIMPLE_RETURN 1960 and a CALLS_TO_FINISH item."""
    sim.add_fault(Fault("finding", "http_409_1960"))
    response = finding_page(client)
    body = xmltodict.parse(response.content)["SIMPLE_RETURN"]["RESPONSE"]
    assert response.status_code == 409
    assert body["CODE"] == "1960"
    assert body["ITEM_LIST"]["ITEM"]["KEY"] == "CALLS_TO_FINISH"


def test_409_1965_rate_limit_names_the_wait(client: httpx.Client, sim: Simulator) -> None:
    """http_409_1965 answers 409/1965 with SECONDS_TO_WAIT and X-RateLimit-ToWait-Sec equal."""
    sim.add_fault(Fault("kb", "http_409_1965", seconds=7))
    response = client.post(KB_PATH, headers=KB_HEADERS, data={"action": "list"})
    body = xmltodict.parse(response.content)["SIMPLE_RETURN"]["RESPONSE"]
    assert response.status_code == 409
    assert body["CODE"] == "1965"
    assert body["ITEM_LIST"]["ITEM"] == {"KEY": "SECONDS_TO_WAIT", "VALUE": "7"}
    assert response.headers["X-RateLimit-ToWait-Sec"] == "7"


def test_429_has_retry_after(client: httpx.Client, sim: Simulator) -> None:
    """http_429 answers 429 with Retry-After in whole seconds."""
    sim.add_fault(Fault("webapp", "http_429", seconds=2.5))
    response = client.post(WEBAPP_SEARCH, content=search_body())
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "3"


def test_connection_reset_in_process_raises_a_read_error(
    client: httpx.Client, sim: Simulator
) -> None:
    """connection_reset breaks the body part-way: in process the client gets httpx.ReadError."""
    sim.add_fault(Fault("finding", "connection_reset"))
    with pytest.raises(httpx.ReadError):
        finding_page(client)
    assert finding_page(client).status_code == 200


def test_truncated_xml_is_cut_mid_element(client: httpx.Client, sim: Simulator) -> None:
    """truncated_xml answers 200 with a well-formed start that does not parse as a document."""
    full = finding_page(client).content
    sim.add_fault(Fault("finding", "truncated_xml"))
    response = finding_page(client)
    assert response.status_code == 200
    assert response.content.startswith(b'<?xml version="1.0"')
    assert len(response.content) < len(full)
    with pytest.raises(xmltodict.expat.ExpatError):
        xmltodict.parse(response.content)


@pytest.mark.parametrize("status", [200, 503])
def test_html_maintenance_page(client: httpx.Client, sim: Simulator, status: int) -> None:
    """html_maintenance answers text/html with the chosen status."""
    sim.add_fault(Fault("finding", "html_maintenance", status=status))
    response = finding_page(client)
    assert response.status_code == status
    assert response.headers["Content-Type"].startswith("text/html")
    assert b"Maintenance" in response.content


def test_invalid_credentials_200_with_good_credentials(
    client: httpx.Client, sim: Simulator
) -> None:
    """invalid_credentials_200 refuses a correctly authenticated call with HTTP 200."""
    sim.add_fault(Fault("webapp", "invalid_credentials_200"))
    response = client.post(WEBAPP_SEARCH, content=search_body())
    assert response.status_code == 200
    assert xmltodict.parse(response.content)["ServiceResponse"]["responseCode"] == (
        "INVALID_CREDENTIALS"
    )


def test_slow_sleeps_then_answers(client: httpx.Client, dataset: object) -> None:
    """slow sleeps the given seconds (through the injected sleep) and then answers normally."""
    slept: list[float] = []
    sim = Simulator(dataset, sleep=slept.append)  # type: ignore[arg-type]
    sim.add_fault(Fault("finding", "slow", seconds=4))
    local = httpx.Client(
        transport=httpx.WSGITransport(app=sim), base_url="http://q.test", auth=("sim", "sim")
    )
    assert local.post(FINDING_SEARCH, content=search_body()).status_code == 200
    assert slept == [4]


@pytest.mark.parametrize(("code", "status"), [(2001, 200), (1905, 400)])
def test_kb_refused_hits_only_the_kb(
    client: httpx.Client, sim: Simulator, code: int, status: int
) -> None:
    """kb_refused refuses KB calls with SIMPLE_RETURN `code` while findings keep working."""
    sim.add_fault(Fault("any", "kb_refused", every=True, code=code))
    assert finding_page(client).status_code == 200
    response = client.post(KB_PATH, headers=KB_HEADERS, data={"action": "list"})
    assert response.status_code == status
    assert xmltodict.parse(response.content)["SIMPLE_RETURN"]["RESPONSE"]["CODE"] == str(code)


def test_fault_rules_validate_their_arguments() -> None:
    """Unknown kinds or endpoints and non-positive counters are rejected at construction."""
    with pytest.raises(ValueError, match="not a valid FaultKind"):
        Fault("finding", "explode")
    with pytest.raises(ValueError, match="unknown fault endpoint"):
        Fault("scan", "http_503")
    with pytest.raises(ValueError, match="1 or more"):
        Fault("finding", "http_503", on_call=0)


def test_concurrency_limit_refuses_extra_calls(dataset: object) -> None:
    """With concurrency_limit=1, a call arriving while another is in flight gets 409/1960."""
    entered = threading.Event()
    release = threading.Event()

    def sleep(_: float) -> None:
        entered.set()
        release.wait(5)

    sim = Simulator(dataset, page_delay=1, concurrency_limit=1, sleep=sleep)  # type: ignore[arg-type]
    client = httpx.Client(
        transport=httpx.WSGITransport(app=sim), base_url="http://q.test", auth=("sim", "sim")
    )
    results: list[int] = []
    worker = threading.Thread(target=lambda: results.append(finding_page(client).status_code))
    worker.start()
    assert entered.wait(5)
    second = finding_page(client)
    release.set()
    worker.join(5)
    assert second.status_code == 409
    assert xmltodict.parse(second.content)["SIMPLE_RETURN"]["RESPONSE"]["CODE"] == "1960"
    assert results == [200]
    assert sim.stats.max_in_flight == 2
