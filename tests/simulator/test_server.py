"""The simulator behind a real socket (threaded wsgiref server)."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import httpx
import pytest
import xmltodict

from connector.simulator import Dataset, Fault, RunningServer, Simulator, serve_in_thread

from .helpers import FINDING_SEARCH, KB_HEADERS, KB_PATH, search_body


@pytest.fixture
def running() -> Iterator[RunningServer]:
    sim = Simulator(Dataset.generate(webapps=3, findings=300, seed=2, qid_pool=20))
    server = serve_in_thread(sim)
    yield server
    server.stop()


def test_serves_over_loopback(running: RunningServer) -> None:
    """serve_in_thread binds 127.0.0.1 on a free port and answers real HTTP calls."""
    assert running.base_url.startswith("http://127.0.0.1:")
    with httpx.Client(base_url=running.base_url, auth=("sim", "sim")) as client:
        response = client.post(FINDING_SEARCH, content=search_body(limit=5))
        kb = client.post(KB_PATH, headers=KB_HEADERS, data={"action": "list"})
    assert response.status_code == 200
    assert xmltodict.parse(response.content)["ServiceResponse"]["count"] == "5"
    assert kb.status_code == 200


def test_connection_reset_breaks_the_read_over_a_socket(running: RunningServer) -> None:
    """connection_reset sends headers and half the body, then drops: the client's read fails."""
    running.simulator.add_fault(Fault("finding", "connection_reset"))
    with httpx.Client(base_url=running.base_url, auth=("sim", "sim")) as client:
        with pytest.raises(httpx.TransportError):
            client.post(FINDING_SEARCH, content=search_body(limit=200))
        assert client.post(FINDING_SEARCH, content=search_body(limit=200)).status_code == 200


def test_slow_page_times_out_the_client(running: RunningServer) -> None:
    """A slow fault longer than the client's read timeout surfaces as httpx.ReadTimeout."""
    running.simulator.add_fault(Fault("finding", "slow", seconds=0.5))
    with (
        httpx.Client(base_url=running.base_url, auth=("sim", "sim"), timeout=0.1) as client,
        pytest.raises(httpx.ReadTimeout),
    ):
        client.post(FINDING_SEARCH, content=search_body(limit=5))


def test_concurrent_calls_overlap_and_are_counted(running: RunningServer) -> None:
    """Calls from two threads overlap during the page delay; max_in_flight records it."""
    sim = running.simulator
    sim.page_delay = 0.2
    barrier = threading.Barrier(2)
    statuses: list[int] = []

    def call() -> None:
        with httpx.Client(base_url=running.base_url, auth=("sim", "sim")) as client:
            barrier.wait()
            statuses.append(client.post(FINDING_SEARCH, content=search_body()).status_code)

    threads = [threading.Thread(target=call) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(5)
    assert statuses == [200, 200]
    assert sim.stats.max_in_flight == 2
    assert sim.stats.calls["finding_search"] == 2
    assert sim.stats.in_flight == 0
