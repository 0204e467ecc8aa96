"""`connector test-connectivity`: each check, each failure mode, --json, exit codes; offline."""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import socket
import ssl
from pathlib import Path

import httpx
import pytest
from qualys.fakes import PASSWORD, FakeQualys, sample, xml

from connector.cli import main
from connector.commands.connectivity import handle
from connector.commands.context import CommandContext
from connector.store.database import create_engine_for, upgrade

VERSION = "/qps/rest/portal/version"
SEARCH_WEBAPP = "/qps/rest/3.0/search/was/webapp"
SEARCH_FINDING = "/qps/rest/3.0/search/was/finding"
KB = "/api/2.0/fo/knowledge_base/vuln/"
NAMES = ["configuration", "api server", "credentials", "search", "knowledge base", "database"]


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'connector.db'}"
    engine = create_engine_for(url)
    upgrade(engine)
    engine.dispose()
    return url


def write_config(tmp_path: Path, db_url: str, extra: str = "") -> Path:
    path = tmp_path / "config.toml"
    path.write_text(
        f"""
[qualys]
api_url = "https://qualysapi.example.test"
username = "acme_ab12"
[database]
url = "{db_url}"
{extra}
"""
    )
    path.chmod(0o600)
    return path


def healthy(samples: Path) -> FakeQualys:
    return (
        FakeQualys()
        .add("GET", "/", httpx.Response(200, text="<html>Qualys</html>"))
        .add("GET", VERSION, sample(samples, "qps_portal_version.xml"))
        .add("POST", SEARCH_WEBAPP, sample(samples, "search_was_webapp_page_last.xml"))
        .add("POST", SEARCH_FINDING, sample(samples, "search_was_finding_empty.xml"))
        .add("POST", KB, sample(samples, "kb_vuln_list_cve.xml"))
    )


def run(
    config: Path | None,
    fake: FakeQualys,
    *,
    as_json: bool = False,
    environ: dict[str, str] | None = None,
) -> tuple[int, str]:
    out = io.StringIO()
    ctx = CommandContext(
        environ={"QUALYS_PASSWORD": PASSWORD} if environ is None else environ,
        stdout=out,
        stderr=io.StringIO(),
        config_path=str(config) if config else None,
    )
    waits: list[float] = []
    code = handle(
        argparse.Namespace(json=as_json), ctx, transport=fake.transport, sleep=waits.append
    )
    return code, out.getvalue()


def lines(output: str) -> dict[str, str]:
    """check name -> the rest of its line."""
    result = {}
    for line in output.splitlines():
        for name in NAMES:
            if line.startswith(f"{name} ") and line[len(name) :].startswith(" "):
                result[name] = line[len(name) :].strip()
    return result


def test_everything_ok(samples: Path, tmp_path: Path, db_url: str) -> None:
    """A healthy setup prints ok for all six checks and a verdict, and exits 0."""
    fake = healthy(samples)
    code, out = run(write_config(tmp_path, db_url), fake)
    assert code == 0, out
    checks = lines(out)
    assert list(checks) == NAMES
    assert all(v.startswith("ok: ") for v in checks.values())
    assert "accepted a TLS connection" in checks["api server"]
    assert "user acme_ab12 accepted" in checks["credentials"]
    assert "schema current" in checks["database"]
    assert out.splitlines()[-1].startswith("connectivity OK")
    assert PASSWORD not in out


def test_it_writes_nothing_to_qualys(samples: Path, tmp_path: Path, db_url: str) -> None:
    """Only read calls are made: the probe without credentials, version, searches, a KB list."""
    fake = healthy(samples)
    run(write_config(tmp_path, db_url), fake)
    calls = [(r.method, r.url.path) for r in fake.requests]
    assert calls == [
        ("GET", "/"),
        ("GET", VERSION),
        ("POST", SEARCH_WEBAPP),
        ("POST", SEARCH_FINDING),
        ("POST", KB),
    ]
    assert "authorization" not in fake.requests[0].headers
    kb = fake.requests[-1].content.decode()
    assert "action=list" in kb
    assert "details=Basic" in kb
    assert "<limitResults>1</limitResults>" in fake.requests[2].content.decode()


def test_json_output(samples: Path, tmp_path: Path, db_url: str) -> None:
    """--json prints one object with the verdict, the exit code and every check."""
    code, out = run(write_config(tmp_path, db_url), healthy(samples), as_json=True)
    payload = json.loads(out)
    assert code == 0
    assert payload["ok"] is True
    assert payload["exit_code"] == 0
    assert [c["name"] for c in payload["checks"]] == NAMES
    assert {c["status"] for c in payload["checks"]} == {"ok"}


def test_wrong_password_with_http_200_is_reported_in_words(
    samples: Path, tmp_path: Path, db_url: str
) -> None:
    """INVALID_CREDENTIALS at HTTP 200 fails credentials in words, skips Qualys checks, exit 3."""
    fake = healthy(samples)
    fake.routes[("GET", VERSION)] = [sample(samples, "qps_invalid_credentials_http200.xml")]
    code, out = run(write_config(tmp_path, db_url), fake)
    checks = lines(out)
    assert code == 3
    assert checks["credentials"].startswith(
        "FAILED: Qualys rejected the credentials for user acme_ab12 on "
        "https://qualysapi.example.test"
    )
    assert "check username and password" in checks["credentials"]
    assert checks["search"].startswith("skipped")
    assert checks["knowledge base"].startswith("skipped")
    assert checks["database"].startswith("ok")  # independent of Qualys: still checked
    assert [r.url.path for r in fake.requests].count(VERSION) == 1  # never retried


def test_wrong_password_json(samples: Path, tmp_path: Path, db_url: str) -> None:
    """--json carries the same FAILED status and words, with exit_code 3."""
    fake = healthy(samples)
    fake.routes[("GET", VERSION)] = [sample(samples, "qps_invalid_credentials_http200.xml")]
    code, out = run(write_config(tmp_path, db_url), fake, as_json=True)
    payload = json.loads(out)
    assert (code, payload["ok"], payload["exit_code"]) == (3, False, 3)
    creds = next(c for c in payload["checks"] if c["name"] == "credentials")
    assert creds["status"] == "FAILED"
    assert "rejected the credentials" in creds["detail"]


def test_configuration_error_fails_first_and_exits_2(tmp_path: Path, db_url: str) -> None:
    """A config problem is a FAILED configuration line listing problems; the rest is skipped."""
    config = write_config(tmp_path, db_url, extra='[schedule]\ntime = "25:00"\n')
    fake = FakeQualys()
    code, out = run(config, fake, environ={})
    checks = lines(out)
    assert code == 2
    assert checks["configuration"].startswith("FAILED: invalid configuration")
    assert "no Qualys password" in out
    assert "schedule.time" in out
    assert all(checks[n].startswith("skipped") for n in NAMES[1:])
    assert fake.requests == []


def test_configuration_error_through_the_cli(tmp_path: Path) -> None:
    """`connector --config X test-connectivity` with a bad config exits 2 without the network."""
    config = tmp_path / "config.toml"
    config.write_text('[qualys]\nplatform = "MARS1"\nusername = "u"\n')
    out = io.StringIO()
    code = main(
        ["--config", str(config), "test-connectivity"],
        environ={"QUALYS_PASSWORD": "x"},
        stdout=out,
        stderr=io.StringIO(),
    )
    assert code == 2
    assert "qualys.platform 'MARS1' is unknown" in out.getvalue()


def _raising(cause: BaseException) -> object:
    def handler(request: httpx.Request) -> httpx.Response:
        error = httpx.ConnectError(str(cause), request=request)
        error.__cause__ = cause  # what httpcore does: the OS or TLS error is the cause
        raise error

    return handler


@pytest.mark.parametrize(
    ("cause", "words"),
    [
        (socket.gaierror(-2, "Name or service not known"), "cannot resolve qualysapi.example.test"),
        (ssl.SSLCertVerificationError("certificate verify failed"), "qualys.ca_bundle"),
        (ConnectionRefusedError(111, "Connection refused"), "cannot connect to"),
    ],
    ids=["dns", "tls", "refused"],
)
def test_unreachable_server_fails_api_server_check(
    tmp_path: Path, db_url: str, cause: BaseException, words: str
) -> None:
    """DNS, TLS and connection failures fail 'api server' in words, skip Qualys checks, exit 3."""
    fake = FakeQualys().add("GET", "/", _raising(cause))  # type: ignore[arg-type]
    code, out = run(write_config(tmp_path, db_url), fake)
    checks = lines(out)
    assert code == 3
    assert checks["api server"].startswith("FAILED: cannot reach https://qualysapi.example.test")
    assert words in checks["api server"]
    assert all(checks[n].startswith("skipped") for n in ("credentials", "search", "knowledge base"))
    assert len(fake.requests) == 1  # the probe does not retry


def with_proxy(config: Path, proxy: str) -> Path:
    text = config.read_text().replace(
        'username = "acme_ab12"', f'username = "acme_ab12"\nproxy = "{proxy}"'
    )
    config.write_text(text)
    return config


def _proxy_error(text: str) -> object:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ProxyError(text, request=request)  # what httpx raises for a refused CONNECT

    return refuse


@pytest.mark.parametrize(
    ("proxy", "answer", "words"),
    [
        pytest.param(
            "http://proxy.internal:3128",
            _proxy_error("407 Proxy Authentication Required"),
            "the proxy at http://proxy.internal:3128 requires credentials (HTTP 407 Proxy "
            "Authentication Required): give them in qualys.proxy (or CONNECTOR_QUALYS_PROXY) as "
            "http://user:password@proxy.internal:3128",
            id="connect-407-no-credentials",
        ),
        pytest.param(
            "http://puser:Pr0xyS3cret@proxy.internal:3128",
            _proxy_error("407 Proxy Authentication Required"),
            "the proxy at http://proxy.internal:3128 refused the proxy credentials (HTTP 407",
            id="connect-407-wrong-credentials",
        ),
        pytest.param(
            "http://puser:Pr0xyS3cret@proxy.internal:3128",
            httpx.Response(407, headers={"proxy-authenticate": 'Basic realm="corp"'}),
            "the proxy at http://proxy.internal:3128 refused the proxy credentials (HTTP 407",
            id="forwarded-407-wrong-credentials",
        ),
        pytest.param(
            "http://proxy.internal:3128",
            _proxy_error("403 Forbidden"),
            "the proxy at http://proxy.internal:3128 refused to connect to "
            "qualysapi.example.test (403 Forbidden): check qualys.proxy",
            id="connect-403",
        ),
    ],
)
def test_proxy_refusals_are_named_as_the_proxy(
    tmp_path: Path, db_url: str, proxy: str, answer: object, words: str
) -> None:
    """A proxy that refuses (407 for a tunnel or a forwarded call, or any other refusal) fails
    'api server' as the proxy's doing, exit 3, never as Qualys rejecting credentials; the proxy
    password is never printed."""
    fake = FakeQualys().add("GET", "/", answer)  # type: ignore[arg-type]
    config = with_proxy(write_config(tmp_path, db_url), proxy)
    code, out = run(config, fake)
    assert code == 3
    assert lines(out)["api server"].startswith(
        "FAILED: cannot reach https://qualysapi.example.test"
    )
    assert words in lines(out)["api server"]
    assert "rejected the credentials" not in out
    assert "Pr0xyS3cret" not in out
    assert len(fake.requests) == 1


def test_a_407_without_a_configured_proxy_names_the_proxy_in_the_way(
    tmp_path: Path, db_url: str
) -> None:
    """A 407 when no proxy is configured (a transparent proxy on the way) says a proxy wants
    credentials and how to give them, not that Qualys refused anything."""
    fake = FakeQualys().add("GET", "/", httpx.Response(407))
    code, out = run(write_config(tmp_path, db_url), fake)
    assert code == 3
    assert (
        "a proxy between this host and Qualys demands credentials (HTTP 407 Proxy Authentication "
        "Required) but qualys.proxy is not set"
    ) in lines(out)["api server"]


def test_a_proxy_407_on_an_authenticated_call_is_not_a_qualys_refusal(
    samples: Path, tmp_path: Path, db_url: str
) -> None:
    """A 407 on the credentials check (the probe got through) names the proxy and is not
    retried: a proxy account locks like any other."""
    fake = healthy(samples)
    fake.routes[("GET", VERSION)] = [httpx.Response(407)]
    config = with_proxy(write_config(tmp_path, db_url), "http://puser:Pr0xyS3cret@proxy:3128")
    code, out = run(config, fake)
    assert code == 3
    assert lines(out)["credentials"].startswith(
        "FAILED: GET https://qualysapi.example.test/qps/rest/portal/version failed: the proxy at "
        "http://proxy:3128 refused the proxy credentials"
    )
    assert "Pr0xyS3cret" not in out
    assert fake.paths().count(VERSION) == 1


LOGIN_PAGE = """<!doctype html><html><head><title>Sign in - Guest Wi-Fi</title></head><body>
<form method="post" action="/login"><input name="user"><input type="password" name="pw">
<button>Sign in</button></form></body></html>"""


def test_a_login_page_is_named_as_such_not_as_maintenance(
    samples: Path, tmp_path: Path, db_url: str
) -> None:
    """A captive portal answering 200 text/html with a login form fails 'credentials' as a login
    page in the way (exit 3), at once: not retried as if Qualys were in maintenance."""
    fake = healthy(samples)
    page = httpx.Response(200, text=LOGIN_PAGE, headers={"content-type": "text/html"})
    fake.routes[("GET", VERSION)] = [page]
    code, out = run(write_config(tmp_path, db_url), fake)
    assert code == 3
    detail = lines(out)["credentials"]
    assert detail.startswith(
        "FAILED: GET https://qualysapi.example.test/qps/rest/portal/version was answered by an "
        "HTML login page (HTTP 200), not by the Qualys API: a captive portal"
    )
    assert "maintenance" not in out
    assert fake.paths().count(VERSION) == 1


def test_missing_permission_fails_search_but_still_checks_kb(
    samples: Path, tmp_path: Path, db_url: str
) -> None:
    """UNAUTHORIZED on search fails 'search' (exit 3) and the KB check still runs."""
    fake = healthy(samples)
    fake.routes[("POST", SEARCH_WEBAPP)] = [
        xml("<ServiceResponse><responseCode>UNAUTHORIZED</responseCode></ServiceResponse>")
    ]
    code, out = run(write_config(tmp_path, db_url), fake)
    checks = lines(out)
    assert code == 3
    assert checks["search"].startswith("FAILED: Qualys user acme_ab12 is not permitted")
    assert checks["knowledge base"].startswith("ok")


def test_kb_refused_is_reported(samples: Path, tmp_path: Path, db_url: str) -> None:
    """A KB call refused with HTTP 403 fails 'knowledge base' with the permission advice."""
    fake = healthy(samples)
    fake.routes[("POST", KB)] = [httpx.Response(403, text="Forbidden")]
    code, out = run(write_config(tmp_path, db_url), fake)
    assert code == 3
    assert "read the KnowledgeBase" in lines(out)["knowledge base"]


def test_kb_check_skipped_when_not_pulled(samples: Path, tmp_path: Path, db_url: str) -> None:
    """With sync.pull_knowledge_base = false the KB check is skipped and no KB call is made."""
    fake = healthy(samples)
    config = write_config(tmp_path, db_url, extra="[sync]\npull_knowledge_base = false\n")
    code, out = run(config, fake)
    assert code == 0
    assert lines(out)["knowledge base"].startswith("skipped: sync.pull_knowledge_base is false")
    assert KB not in [r.url.path for r in fake.requests]


def test_missing_sqlite_database_is_a_warning_and_not_created(
    samples: Path, tmp_path: Path
) -> None:
    """A new setup (no SQLite file yet) passes with a warning that the first sync creates it, and
    the check does not create the file."""
    missing = tmp_path / "nowhere" / "connector.db"
    code, out = run(write_config(tmp_path, f"sqlite:///{missing}"), healthy(samples))
    assert code == 0
    assert lines(out)["database"] == (
        f"warning: no database yet (the first sync creates it): {missing}"
    )
    assert "connectivity OK: 6 check(s) passed (1 with a warning)" in out
    assert not missing.exists()
    assert not missing.parent.exists()
    code, out = run(write_config(tmp_path, f"sqlite:///{missing}"), healthy(samples), as_json=True)
    database = next(c for c in json.loads(out)["checks"] if c["name"] == "database")
    assert (code, database["status"], database["ok"]) == (0, "warning", True)


def test_unmigrated_database_is_a_warning(samples: Path, tmp_path: Path) -> None:
    """An existing but empty database is reachable and not yet created by a sync: a warning,
    exit 0."""
    path = tmp_path / "empty.db"
    url = f"sqlite:///{path}"
    engine = create_engine_for(url)
    with engine.connect():
        pass
    engine.dispose()
    code, out = run(write_config(tmp_path, url), healthy(samples))
    assert code == 0
    assert lines(out)["database"].startswith("warning: no database yet (the first sync creates it)")


def test_unreachable_postgres_fails_database(samples: Path, tmp_path: Path) -> None:
    """A database that refuses connections fails 'database' with the redacted URL."""
    url = "postgresql+psycopg://postgres:hunter2@127.0.0.1:1/none"
    code, out = run(write_config(tmp_path, url), healthy(samples))
    assert code == 1
    assert "cannot reach the database" in lines(out)["database"]
    assert "hunter2" not in out


def test_help_describes_checks_and_exit_codes() -> None:
    """`test-connectivity --help` documents the checks and the exit codes."""
    out = io.StringIO()
    with pytest.raises(SystemExit), contextlib.redirect_stdout(out):
        main(["test-connectivity", "--help"])
    text = out.getvalue()
    assert "--json" in text
    assert "3 when Qualys refuses" in " ".join(text.split())
