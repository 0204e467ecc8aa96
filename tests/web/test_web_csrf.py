"""CSRF: every POST without the session's token gets 403 and changes nothing."""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient

from connector.store import imports as store_imports
from connector.web.state import Console

from .conftest import Runners
from .test_web_auth import every_route

POSTS = [path for method, path in every_route() if method == "POST" and path != "/login"]


@pytest.fixture
def db_url(sqlite_url: str) -> str:
    """Not about SQL: these run on SQLite only."""
    return sqlite_url


@pytest.mark.parametrize("path", POSTS)
@pytest.mark.parametrize("token", [None, "not-the-token"])
def test_a_post_without_the_token_is_refused(
    client: TestClient, runners: Runners, path: str, token: str | None
) -> None:
    """A logged-in POST without (or with a wrong) csrf_token is refused with 403."""
    data = {} if token is None else {"csrf_token": token}
    response = client.post(path, data=data)
    assert response.status_code == 403
    assert "security token" in response.text
    assert runners.calls == [], "nothing ran"


def test_csrf_refusal_leaves_the_mapping(client: TestClient, console: Console) -> None:
    """A forged delete of a saved mapping (no token) leaves the mapping in place."""
    with console.engine.begin() as conn:
        store_imports.save_mapping(
            conn,
            console.connector,
            "mine",
            {"format": "flat_csv", "columns": {"title": "T", "url": "U"}, "severity_values": {}},
            now=console.clock(),
        )
    assert client.post("/mappings/mine/delete").status_code == 403
    with console.engine.connect() as conn:
        assert store_imports.load_mapping(conn, console.connector, "mine") is not None


def test_every_post_route_is_covered() -> None:
    """The POST list is the real one (logout, imports, mappings, connectivity, validate)."""
    assert {"/logout", "/imports/new", "/connectivity", "/validate"} <= set(POSTS)
    assert len(POSTS) >= 9
