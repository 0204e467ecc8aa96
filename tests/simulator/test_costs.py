"""The server cost model, the byte and record counters, and the /_simulator/ control calls."""

from __future__ import annotations

import math
from datetime import UTC, datetime

import httpx
import pytest

from connector.simulator import NOW, Dataset, Fault, Simulator

from .helpers import FINDING_COUNT, FINDING_SEARCH, KB_HEADERS, KB_PATH, WEBAPP_SEARCH, search_body


def costly(
    dataset: Dataset, **options: float | None
) -> tuple[Simulator, httpx.Client, list[float]]:
    slept: list[float] = []
    sim = Simulator(dataset, sleep=slept.append, **options)  # type: ignore[arg-type]
    client = httpx.Client(
        transport=httpx.WSGITransport(app=sim), base_url="http://q.test", auth=("sim", "sim")
    )
    return sim, client, slept


def test_a_page_costs_its_fixed_part_plus_each_record(dataset: Dataset) -> None:
    """A verbose page of 40 costs page_delay + 40 verbose records; a brief one, brief records."""
    sim, client, slept = costly(
        dataset, page_delay=0.2, verbose_record_delay=0.003, brief_record_delay=0.001
    )
    client.post(FINDING_SEARCH, content=search_body(limit=40, verbose=True))
    client.post(FINDING_SEARCH, content=search_body(limit=40, verbose=False))
    assert slept == [pytest.approx(0.2 + 40 * 0.003), pytest.approx(0.2 + 40 * 0.001)]
    assert sim.stats.server_seconds == pytest.approx(sum(slept))
    assert sim.stats.records_served == {"finding_verbose": 40, "finding_brief": 40}
    assert (sim.stats.verbose_records, sim.stats.brief_records) == (40, 40)


def test_web_app_pages_are_charged_the_same_way(dataset: Dataset) -> None:
    """Web app pages pay the page and per-record costs too."""
    sim, client, slept = costly(dataset, page_delay=0.1, verbose_record_delay=0.01)
    client.post(WEBAPP_SEARCH, content=search_body(limit=4, verbose=True))
    assert slept == [pytest.approx(0.1 + 4 * 0.01)]
    assert sim.stats.records_served == {"webapp_verbose": 4}


def test_a_count_costs_a_page_without_records_unless_told(dataset: Dataset) -> None:
    """A count costs page_delay by default, count_delay when given, however many it counts."""
    _, client, slept = costly(dataset, page_delay=0.2, verbose_record_delay=0.5)
    client.post(FINDING_COUNT, content=b"")
    _, client2, slept2 = costly(dataset, page_delay=0.2, count_delay=0.05)
    client2.post(FINDING_COUNT, content=b"")
    assert (slept, slept2) == ([0.2], [0.05])


def test_a_get_costs_one_verbose_record(dataset: Dataset) -> None:
    """GET of one finding costs page_delay + one verbose record; an empty page only page_delay."""
    sim, client, slept = costly(dataset, page_delay=0.1, verbose_record_delay=0.02)
    client.get(f"/qps/rest/3.0/get/was/finding/{dataset.finding_ids()[0]}")
    client.post(FINDING_SEARCH, content=search_body(("id", "GREATER", "999999999")))
    assert slept == [pytest.approx(0.12), pytest.approx(0.1)]
    assert sim.stats.records_served == {"finding_verbose": 1}


def test_without_delays_nothing_sleeps(client: httpx.Client, sim: Simulator) -> None:
    """The default simulator charges nothing."""
    client.post(FINDING_SEARCH, content=search_body(limit=100))
    assert sim.stats.server_seconds == 0.0


def test_bytes_are_counted_per_endpoint(client: httpx.Client, sim: Simulator) -> None:
    """bytes_served holds the body bytes each endpoint sent, faulted answers included."""
    sizes = [len(client.post(FINDING_SEARCH, content=search_body(limit=n)).content) for n in (5, 9)]
    kb = client.post(KB_PATH, headers=KB_HEADERS, data={"action": "list"})
    sim.add_fault(Fault("finding", "http_503"))
    failed = client.post(FINDING_SEARCH, content=search_body())
    assert sim.stats.bytes_served["finding_search"] == sum(sizes) + len(failed.content)
    assert sim.stats.bytes_served["kb"] == len(kb.content)
    assert sim.stats.total_bytes == sum(sizes) + len(failed.content) + len(kb.content)


def test_a_reset_connection_counts_the_bytes_sent(sim: Simulator, client: httpx.Client) -> None:
    """A connection_reset counts only the half of the body that went out."""
    full = len(client.post(FINDING_SEARCH, content=search_body(limit=20)).content)
    sim.reset_stats()
    sim.add_fault(Fault("finding", "connection_reset"))
    with pytest.raises(httpx.ReadError):
        client.post(FINDING_SEARCH, content=search_body(limit=20))
    assert sim.stats.bytes_served["finding_search"] == full // 2


@pytest.mark.parametrize(
    "options",
    [{"page_delay": -1.0}, {"verbose_record_delay": math.nan}, {"count_delay": -0.1}],
)
def test_bad_delays_are_refused(dataset: Dataset, options: dict[str, float]) -> None:
    """Negative or NaN delays are refused when the simulator is built."""
    with pytest.raises(ValueError, match="seconds >= 0"):
        Simulator(dataset, **options)  # type: ignore[arg-type]


def test_control_stats_and_reset(client: httpx.Client, sim: Simulator) -> None:
    """GET /_simulator/stats answers the counters as JSON, not counting itself; reset zeroes."""
    body = client.post(FINDING_SEARCH, content=search_body(limit=7, verbose=False)).content
    stats = client.get("/_simulator/stats").json()
    assert stats["calls"] == {"finding_search": 1}
    assert stats["bytes_served"] == {"finding_search": len(body)}
    assert stats["records_served"] == {"finding_brief": 7}
    assert client.post("/_simulator/stats/reset").json()["total_calls"] == 1
    assert client.get("/_simulator/stats").json()["total_calls"] == 0
    assert sim.stats.total_calls == 0


def test_control_needs_the_login(sim: Simulator) -> None:
    """The control calls refuse a caller without the simulator's login."""
    anonymous = httpx.Client(transport=httpx.WSGITransport(app=sim), base_url="http://q.test")
    assert anonymous.get("/_simulator/stats").status_code == 401
    assert anonymous.post("/_simulator/day", data={"seed": "1"}).status_code == 401


def test_control_day_applies_a_day_of_changes(client: httpx.Client, dataset: Dataset) -> None:
    """POST /_simulator/day applies simulate_day with the given seed, share and end."""
    before = dataset.finding_count()
    answer = client.post(
        "/_simulator/day", data={"seed": "4", "share": "0.1", "when": "2024-06-03T00:00:00Z"}
    )
    assert answer.status_code == 200
    changes = answer.json()
    assert changes["when"] == "2024-06-03T00:00:00+00:00"
    assert dataset.now == datetime(2024, 6, 3, tzinfo=UTC)
    assert dataset.finding_count() == before - len(changes["removed"]) + len(
        changes["added"]
    ) + len(changes["added_informational"])
    assert {int(i) for i in changes["fixed"]} <= set(dataset.finding_ids())


def test_control_day_defaults_to_now(dataset: Dataset) -> None:
    """Without `when` the day ends at the simulator's clock."""
    sim = Simulator(dataset, clock=lambda: datetime(2024, 6, 5, 8, tzinfo=UTC))
    client = httpx.Client(
        transport=httpx.WSGITransport(app=sim), base_url="http://q.test", auth=("sim", "sim")
    )
    assert client.post("/_simulator/day?seed=1").json()["when"] == "2024-06-05T08:00:00+00:00"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({}, "seed"),
        ({"seed": "x"}, "invalid literal"),
        ({"seed": "1", "when": "2020-01-01T00:00:00Z"}, "after the data set's clock"),
        ({"seed": "1", "share": "2"}, "share"),
    ],
)
def test_control_day_refuses_bad_parameters(
    client: httpx.Client, dataset: Dataset, data: dict[str, str], message: str
) -> None:
    """A day without seed, with a bad number or an end before the clock is a 400 with a reason,
    and changes nothing."""
    before = dataset.finding_ids()
    answer = client.post("/_simulator/day", data=data)
    assert answer.status_code == 400
    assert message in answer.json()["error"]
    assert (dataset.now, dataset.finding_ids()) == (NOW, before)


def test_unknown_control_call_is_404(client: httpx.Client) -> None:
    """An unknown /_simulator/ path is a 404 naming it."""
    answer = client.get("/_simulator/nothing")
    assert answer.status_code == 404
    assert "/_simulator/nothing" in answer.json()["error"]


def test_control_day_after_a_clock_behind_the_data_moves_a_day_on(dataset: Dataset) -> None:
    """When the simulator's clock is not after the data set's, the day ends a day later."""
    sim = Simulator(dataset, clock=lambda: NOW)
    client = httpx.Client(
        transport=httpx.WSGITransport(app=sim), base_url="http://q.test", auth=("sim", "sim")
    )
    assert client.post("/_simulator/day?seed=1").json()["when"] == "2024-06-02T00:00:00+00:00"
