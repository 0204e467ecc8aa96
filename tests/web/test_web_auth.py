"""Login, sessions and the login wall: nothing is served without a live session."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import pytest
from starlette.routing import Route
from starlette.testclient import TestClient

from connector.web.app import create_app, routes
from connector.web.sessions import COOKIE
from connector.web.state import Console

from .conftest import WEB_PASSWORD, WEB_USER, Runners, csrf_token, log_in, make_console, web_config

SAMPLE_PARAMS = {"key": "1", "qid": "150001", "run_id": "1", "scan_id": "1", "token": "x",
                 "name": "qualys-was-csv", "fmt": "csv"}  # fmt: skip


@pytest.fixture
def db_url(sqlite_url: str) -> str:
    """Not about SQL: these run on SQLite only."""
    return sqlite_url


def every_route() -> list[tuple[str, str]]:
    """(method, path) of every console route, with sample path parameters filled in."""
    found = []
    for route in routes():
        if not isinstance(route, Route):
            continue
        path = route.path
        for name, value in SAMPLE_PARAMS.items():
            path = path.replace(f"{{{name}}}", value).replace(f"{{{name}:path}}", value)
            path = path.replace(f"{{{name}:str}}", value)
        for method in sorted(route.methods or ()):
            if method != "HEAD":
                found.append((method, path))
    return found


def test_login_page_has_the_contract_inputs(anon: TestClient) -> None:
    """/login is a form posting inputs named username and password (and a CSRF token)."""
    page = anon.get("/login")
    assert page.status_code == 200
    assert 'name="username"' in page.text
    assert 'name="password"' in page.text and 'type="password"' in page.text
    assert csrf_token(page.text)


def test_wrong_password_is_refused_and_slowed_down(anon: TestClient, runners: Runners) -> None:
    """A wrong password gets 401 and no session, each failure waiting longer than the last."""
    for _ in range(3):
        assert log_in(anon, password="not-the-password") == 401
    assert runners.waits == [1.0, 2.0, 4.0]
    assert COOKIE not in anon.cookies
    page = anon.get("/findings")
    assert page.status_code == 303 and page.headers["location"].startswith("/login")
    refused = anon.post(
        "/login",
        data={
            "username": "admin",
            "password": WEB_PASSWORD,
            "csrf_token": csrf_token(anon.get("/login").text),
        },
    )
    assert refused.status_code == 401, "the right password for the wrong user is refused"
    assert "wrong username or password" in refused.text
    assert WEB_PASSWORD not in refused.text


def test_login_sets_a_strict_httponly_expiring_cookie(anon: TestClient, console: Console) -> None:
    """A good login redirects with a signed session cookie: HttpOnly, SameSite=Strict, Max-Age."""
    page = anon.get("/login?next=/findings%3Fstatus%3DActive")
    response = anon.post(
        "/login",
        data={
            "username": WEB_USER,
            "password": WEB_PASSWORD,
            "next": "/findings?status=Active",
            "csrf_token": csrf_token(page.text),
        },
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/findings?status=Active"
    cookie = next(h for h in response.headers.get_list("set-cookie") if h.startswith(f"{COOKIE}="))
    flags = {part.strip().split("=")[0].lower(): part for part in cookie.split(";")}
    assert "httponly" in flags
    assert flags["samesite"].strip().lower() == "samesite=strict"
    assert flags["max-age"].strip() == f"Max-Age={console.config.web.session_minutes * 60}"
    assert flags["path"].strip() == "Path=/"
    assert anon.get("/findings").status_code == 200


def test_login_redirects_only_within_the_site(anon: TestClient) -> None:
    """`next` pointing at another host is ignored after login (no open redirect)."""
    page = anon.get("/login")
    response = anon.post(
        "/login",
        data={
            "username": WEB_USER,
            "password": WEB_PASSWORD,
            "next": "//evil.example/x",
            "csrf_token": csrf_token(page.text),
        },
    )
    assert response.headers["location"] == "/"


def test_login_form_without_its_token_is_refused(anon: TestClient) -> None:
    """A login POST without the form's token (a cross-site login attempt) gets 403."""
    response = anon.post("/login", data={"username": WEB_USER, "password": WEB_PASSWORD})
    assert response.status_code == 403
    assert COOKIE not in anon.cookies


def test_a_forged_cookie_is_not_a_session(anon: TestClient) -> None:
    """A cookie the server did not sign (or one altered) is refused like no cookie."""
    assert log_in(anon) == 303
    good = anon.cookies[COOKIE]
    anon.cookies.clear()
    anon.cookies.set(COOKIE, good[:-2] + ("AA" if not good.endswith("AA") else "BB"))
    assert anon.get("/").status_code == 303


def test_sessions_expire(synced, runners: Runners) -> None:  # type: ignore[no-untyped-def]
    """A session older than [web] session_minutes is over: the next page asks for a login."""
    now = [datetime(2026, 1, 1, tzinfo=UTC)]
    console = make_console(synced.engine, web_config(synced.config, session_minutes=30), runners)
    console = Console(
        engine=console.engine,
        config=console.config,
        check_connectivity=runners.check,
        run_validation=runners.validate,
        sleep=runners.sleep,
        clock=lambda: now[0],
    )
    with TestClient(create_app(console), follow_redirects=False) as client:
        assert log_in(client) == 303
        now[0] += timedelta(minutes=29)
        assert client.get("/").status_code == 200
        now[0] += timedelta(minutes=2)
        assert client.get("/").status_code == 303
    console.uploads.close()


def test_logout_ends_the_session_for_good(client: TestClient) -> None:
    """After logout the old cookie no longer opens anything, even if replayed."""
    old = client.cookies[COOKIE]
    page = client.get("/")
    assert client.post("/logout", data={"csrf_token": csrf_token(page.text)}).status_code == 303
    client.cookies.clear()
    client.cookies.set(COOKIE, old)
    assert client.get("/").status_code == 303


@pytest.mark.parametrize(("method", "path"), every_route())
def test_nothing_is_served_without_a_session(anon: TestClient, method: str, path: str) -> None:
    """Every route but /login answers a request without a session with a redirect or 401."""
    if path == "/login":
        pytest.skip("the login page is public by design")
    response = anon.request(method, path)
    if method == "GET" and not path.endswith((".csv", ".jsonl")):
        assert response.status_code == 303
        assert response.headers["location"].startswith("/login?next=")
    else:
        assert response.status_code == 401
    assert "finding" not in response.text.lower()


def test_the_route_list_covers_the_contract() -> None:
    """The walk above sees every page the issue names (guards against an empty list)."""
    paths = {path for _, path in every_route()}
    for wanted in (
        "/",
        "/findings",
        "/findings.csv",
        "/assets",
        "/weaknesses",
        "/runs",
        "/imports",
        "/imports/new",
        "/mappings",
        "/connectivity",
        "/validate",
    ):
        assert wanted in paths


def test_failed_logins_log_no_password(anon: TestClient, caplog: pytest.LogCaptureFixture) -> None:
    """A failed login is logged with the user and address, never with the password tried."""
    with caplog.at_level(logging.INFO):
        log_in(anon, password="tried-secret-9")
        log_in(anon)
    text = caplog.text
    assert "failed console login" in text
    assert "tried-secret-9" not in text and WEB_PASSWORD not in text
