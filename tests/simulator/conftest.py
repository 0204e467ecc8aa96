"""Fixtures for the simulator tests: a small generated tenant served in process."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from connector.simulator import Dataset, Simulator

from .helpers import BASE


@pytest.fixture
def dataset() -> Dataset:
    """A small tenant: 6 web apps, 400 findings, seed 11."""
    return Dataset.generate(webapps=6, findings=400, seed=11, qid_pool=40)


@pytest.fixture
def sim(dataset: Dataset) -> Simulator:
    return Simulator(dataset)


@pytest.fixture
def client(sim: Simulator) -> Iterator[httpx.Client]:
    with httpx.Client(
        transport=httpx.WSGITransport(app=sim), base_url=BASE, auth=("sim", "sim")
    ) as c:
        yield c
