"""`[web]` configuration, `connector web` without a password, and the console inside
`connector serve` (off without a password, served on its port with one)."""

from __future__ import annotations

import io
import logging
from pathlib import Path

import httpx
import pytest

from connector.cli import main
from connector.commands.context import protect_secrets
from connector.commands.web import start_console, stop_console
from connector.config import load_config
from connector.errors import ConfigError
from connector.logsetup import REDACTOR
from tests.support import Tenant

from .conftest import WEB_PASSWORD, web_config


@pytest.fixture
def db_url(sqlite_url: str) -> str:
    """Not about SQL: SQLite only."""
    return sqlite_url


def test_web_defaults_and_the_environment(tmp_path: Path) -> None:
    """[web] defaults to 127.0.0.1:8080 and user admin; the password comes from the environment
    or a file, never required in the TOML; CONNECTOR_WEB_LISTEN overrides listen."""
    plain = load_config(None, {}, require_credentials=False).web
    assert (plain.host, plain.port, plain.username, plain.password) == (
        "127.0.0.1",
        8080,
        "admin",
        None,
    )
    env = {"CONNECTOR_WEB_PASSWORD": "from-env", "CONNECTOR_WEB_LISTEN": "0.0.0.0:9000"}
    web = load_config(None, env, require_credentials=False).web
    assert web.password is not None and web.password.reveal() == "from-env"
    assert (web.host, web.port) == ("0.0.0.0", 9000)
    secret = tmp_path / "web_password"
    secret.write_text("from-file\n", encoding="utf-8")
    config = tmp_path / "c.toml"
    config.write_text(f'[web]\npassword_file = "{secret}"\nusername = "ops"\n', encoding="utf-8")
    web = load_config(config, {}, require_credentials=False).web
    assert web.password is not None and web.password.reveal() == "from-file"
    assert web.username == "ops"
    assert "from-file" not in repr(web)


def test_bad_web_settings_are_reported_together(tmp_path: Path) -> None:
    """A password written in the TOML, an unreadable password file and a bad listen are all
    named in one configuration error."""
    config = tmp_path / "c.toml"
    config.write_text(
        f'[web]\npassword = "x"\npassword_file = "{tmp_path / "missing"}"\nlisten = "nope"\n',
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as caught:
        load_config(config, {}, require_credentials=False)
    text = str(caught.value)
    assert "unknown key web.password" in text
    assert "web.password_file" in text and "cannot be read" in text
    assert "web.listen 'nope' must be HOST:PORT" in text


def test_connector_web_without_a_password_exits_2(tmp_path: Path, db_url: str) -> None:
    """`connector web` with no password says how to set one and exits 2 (no anonymous mode)."""
    out, err = io.StringIO(), io.StringIO()
    environ = {"CONNECTOR_DATABASE_URL": db_url, "CONNECTOR_CONFIG": ""}
    code = main(["web"], environ=environ, stdout=out, stderr=err)
    assert code == 2
    assert "CONNECTOR_WEB_PASSWORD" in err.getvalue() and "password_file" in err.getvalue()
    assert "Traceback" not in err.getvalue()


def test_the_web_password_is_registered_with_the_redactor() -> None:
    """Once the config is loaded, the web password is masked in every log line."""
    config = load_config(
        None, {"CONNECTOR_WEB_PASSWORD": "hunter2-web-console"}, require_credentials=False
    )
    protect_secrets(config)
    assert "hunter2-web-console" not in REDACTOR.redact("login with hunter2-web-console")


def test_serve_without_a_password_runs_without_the_console(
    tenant: Tenant, caplog: pytest.LogCaptureFixture
) -> None:
    """In `connector serve` without a web password the console is off, with one log line why."""
    with caplog.at_level(logging.INFO):
        started = start_console(
            tenant.config, tenant.engine, load_config=lambda: tenant.config, next_sync=lambda: None
        )
    assert started is None
    lines = [r.getMessage() for r in caplog.records if "web console off" in r.getMessage()]
    assert len(lines) == 1 and "CONNECTOR_WEB_PASSWORD" in lines[0]


def test_serve_with_a_password_serves_the_console(tenant: Tenant) -> None:
    """With a password the console listens on [web] listen beside the daemon (port 0: any)."""
    config = web_config(tenant.config, host="127.0.0.1", port=0)
    started = start_console(
        config, tenant.engine, load_config=lambda: config, next_sync=lambda: None
    )
    assert started is not None
    server, _ = started
    try:
        with httpx.Client(base_url=server.url) as http:
            login = http.get("/login")
            assert login.status_code == 200 and 'name="password"' in login.text
            assert http.get("/findings").status_code == 303
        assert WEB_PASSWORD not in login.text
    finally:
        stop_console(started)
