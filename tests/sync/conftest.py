"""The sync tests' tenant: enough findings for five pages of 50 once informational ones are out."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine

from connector.simulator import Dataset
from tests.support import Tenant, make_tenant


@pytest.fixture
def tenant(engine: Engine, db_url: str) -> Tenant:
    dataset = Dataset.generate(webapps=6, findings=300, seed=7)
    return make_tenant(engine, db_url, dataset, page_size=50, retry_max_attempts=2)
