"""Hostile configuration and what stands between the connector and Qualys, through the CLI: nan and
inf timeouts, URLs carrying credentials, unsupported schemes and bad ports exit 2 with every problem
named; a proxy refusing its credentials (HTTP 407, for a tunnel or a forwarded call) exits 3 naming
the proxy. In every case no password a URL carries appears in any output or log line."""

from __future__ import annotations

import base64
import importlib.util
import io
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import quote

import pytest

from connector.cli import main
from connector.simulator import RunningServer, Simulator, serve_in_thread
from tests.support import PASSWORD, USERNAME, small_dataset, write_config

API_PASSWORD = "ApiS3cret-in-url"
PROXY_USER = "proxy.user"
PROXY_PASSWORD = "Pr0xy!S3cret_%&=/"  # characters that must be percent-encoded in a URL
DB_PASSWORD = "DbS3cret-in-url"


def leak_forms(user: str, secret: str) -> list[str]:
    """The secret as it could leak: raw, percent-encoded, and inside a Basic-auth token."""
    basic = base64.b64encode(f"{user}:{secret}".encode()).decode()
    return [secret, quote(secret, safe=""), basic]


SECRET_FORMS = [
    *leak_forms("apiuser", API_PASSWORD),
    *leak_forms(PROXY_USER, PROXY_PASSWORD),
    *leak_forms("dbuser", DB_PASSWORD),
    *leak_forms(USERNAME, PASSWORD),
]


def assert_no_secret(text: str) -> None:
    for form in SECRET_FORMS:
        assert form not in text, f"{form!r} leaked"


def cli(argv: list[str], config: Path, **environ: str) -> tuple[int, str]:
    """Exit code and everything written (stdout, stderr and the log lines on it)."""
    out, err = io.StringIO(), io.StringIO()
    code = main(
        ["--config", str(config), *argv],
        environ={"QUALYS_PASSWORD": PASSWORD, **environ},
        stdout=out,
        stderr=err,
    )
    return code, out.getvalue() + err.getvalue()


HOSTILE = f"""
[qualys]
username = "{USERNAME}"
api_url = "ftp://apiuser:{API_PASSWORD}@qualysapi.example"
proxy = "gopher://{PROXY_USER}:{quote(PROXY_PASSWORD, safe="")}@proxy.internal:3128"
timeout_seconds = nan
retry_max_wait_seconds = inf
[database]
url = "postgresql+psycopg://dbuser:{DB_PASSWORD}@db.internal:5432x/connector"
[service]
log_format = "json"
log_level = "debug"
"""


@pytest.mark.parametrize(
    "argv",
    [["sync", "--no-progress"], ["test-connectivity"], ["test-connectivity", "--json"]],
    ids=["sync", "test-connectivity", "test-connectivity-json"],
)
def test_hostile_file_exits_2_naming_every_problem_and_no_secret(
    tmp_path: Path, argv: list[str]
) -> None:
    """nan, inf, an api_url and a proxy with credentials and bad schemes, a database port that
    is not a number: exit 2, each problem named, no traceback, no password in any form."""
    config = tmp_path / "config.toml"
    config.write_text(HOSTILE, encoding="utf-8")
    code, output = cli(argv, config)
    assert code == 2
    for words in (
        "qualys.api_url 'ftp://********@qualysapi.example' must start with https:// or http://",
        "qualys.api_url 'ftp://********@qualysapi.example' carries a user name or password",
        "qualys.proxy 'gopher://********@proxy.internal:3128' must start with http://",
        "qualys.timeout_seconds nan must be a number of seconds greater than 0",
        "qualys.retry_max_wait_seconds inf must be a number of seconds",
        "database.url 'postgresql+psycopg://********@db.internal:5432x/connector' has a port",
    ):
        assert words in output, (words, output)
    assert "6 problem(s)" in output
    assert "Traceback" not in output
    assert_no_secret(output)


@pytest.mark.parametrize(
    ("environ", "words"),
    [
        ({"CONNECTOR_QUALYS_TIMEOUT_SECONDS": "nan"}, "CONNECTOR_QUALYS_TIMEOUT_SECONDS='nan'"),
        ({"CONNECTOR_QUALYS_TIMEOUT_SECONDS": "inf"}, "CONNECTOR_QUALYS_TIMEOUT_SECONDS='inf'"),
        (
            {"CONNECTOR_QUALYS_PROXY": f"http://{PROXY_USER}:{PROXY_PASSWORD}@proxy:31x8"},
            "qualys.proxy http://... is not a valid URL",
        ),
        (
            {"CONNECTOR_QUALYS_API_URL": f"https://apiuser:{API_PASSWORD}@qualysapi.example"},
            "carries a user name or password",
        ),
        (
            {"CONNECTOR_DATABASE_URL": f"postgresql://dbuser:{DB_PASSWORD}@db:port/connector"},
            "has a port that is not a number",
        ),
        (
            {"CONNECTOR_DATABASE_URL": f"oracle://dbuser:{DB_PASSWORD}@db/connector"},
            "(got oracle://...)",
        ),
    ],
    ids=["timeout-nan", "timeout-inf", "proxy-port", "api-url-credentials", "db-port", "db-scheme"],
)
def test_hostile_environment_exits_2_with_the_problem_named(
    tmp_path: Path, environ: dict[str, str], words: str
) -> None:
    """The same values given as CONNECTOR_* variables are refused the same way (exit 2)."""
    config = write_config(tmp_path, "http://127.0.0.1:9", f"sqlite:///{tmp_path / 'c.db'}")
    code, output = cli(["sync", "--no-progress"], config, **environ)
    assert code == 2, output
    assert words in output
    assert "Traceback" not in output
    assert_no_secret(output)


# --- a proxy that refuses the credentials -------------------------------------------------------
class RefusingProxy(BaseHTTPRequestHandler):
    """Answers every request, forwarded or CONNECT, with 407; remembers what it was sent."""

    seen: list[str | None]

    def _refuse(self) -> None:
        type(self).seen.append(self.headers.get("Proxy-Authorization"))
        self.send_response(407)
        self.send_header("Proxy-Authenticate", 'Basic realm="corp"')
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_GET = do_POST = do_CONNECT = _refuse  # noqa: N815 - the names http.server dispatches to

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: the test reads what the connector prints, not the proxy's access log."""


@pytest.fixture
def refusing_proxy() -> Iterator[tuple[str, list[str | None]]]:
    """A local proxy answering 407 to everything: (its host:port, Proxy-Authorization seen)."""
    handler = type("Handler", (RefusingProxy,), {"seen": []})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{server.server_port}", handler.seen
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def served() -> Iterator[RunningServer]:
    """A small simulated tenant on a loopback port."""
    with serve_in_thread(
        Simulator(small_dataset(), username=USERNAME, password=PASSWORD)
    ) as running:
        yield running


@pytest.mark.parametrize("target", ["forwarded", "tunnel"])
@pytest.mark.parametrize(
    "argv", [["sync", "--no-progress"], ["test-connectivity"]], ids=["sync", "test-connectivity"]
)
def test_a_proxy_refusing_its_credentials_is_named_and_its_password_never_printed(
    tmp_path: Path,
    served: RunningServer,
    refusing_proxy: tuple[str, list[str | None]],
    target: str,
    argv: list[str],
) -> None:
    """Through a real proxy answering 407 (to a forwarded http:// call, or to the CONNECT of an
    https:// one): exit 3 with 'the proxy at ... refused the proxy credentials', never 'Qualys
    rejected the credentials'; the proxy got the credentials; debug JSON logs hold no password."""
    address, seen = refusing_proxy
    api_url = served.base_url if target == "forwarded" else "https://qualysapi.example.invalid"
    proxy = f"http://{PROXY_USER}:{quote(PROXY_PASSWORD, safe='')}@{address}"
    config = write_config(
        tmp_path,
        api_url,
        f"sqlite:///{tmp_path / 'c.db'}",
        extra='[service]\nlog_format = "json"\nlog_level = "debug"\n',
    )
    config.write_text(config.read_text().replace("[database]", f'proxy = "{proxy}"\n[database]'))
    code, output = cli(argv, config)
    assert code in (1, 3), output  # sync: "sync failed" exits 1; test-connectivity exits 3
    assert code == (1 if argv[0] == "sync" else 3)
    assert f"the proxy at http://{address} refused the proxy credentials (HTTP 407" in output
    assert "rejected the credentials" not in output
    assert "Traceback" not in output
    token = base64.b64encode(f"{PROXY_USER}:{PROXY_PASSWORD}".encode()).decode()
    assert seen and set(seen) == {f"Basic {token}"}  # the decoded credentials were offered
    assert len(seen) == 1  # never retried: a proxy account locks like any other
    assert_no_secret(output)


def test_a_socks_proxy_without_its_package_is_a_configuration_error(tmp_path: Path) -> None:
    """socks5:// passes validation, but without the socksio package httpx cannot use it: exit 2
    naming the package, not a traceback, and not the proxy password."""
    if importlib.util.find_spec("socksio") is not None:
        pytest.skip("socksio is installed: SOCKS proxies work")
    config = write_config(tmp_path, "https://qualysapi.example", f"sqlite:///{tmp_path / 'c.db'}")
    proxy = f"socks5://{PROXY_USER}:{quote(PROXY_PASSWORD, safe='')}@127.0.0.1:1080"
    code, output = cli(["sync", "--no-progress"], config, CONNECTOR_QUALYS_PROXY=proxy)
    assert code == 2
    assert (
        "qualys.proxy socks5://127.0.0.1:1080 is a SOCKS proxy, which needs the socksio" in output
    )
    assert "Traceback" not in output
    assert_no_secret(output)


def test_an_empty_proxy_variable_syncs_without_a_proxy(
    tmp_path: Path, served: RunningServer
) -> None:
    """`CONNECTOR_QUALYS_PROXY=` means no proxy: the sync reaches the simulator directly."""
    config = write_config(tmp_path, served.base_url, f"sqlite:///{tmp_path / 'c.db'}")
    code, output = cli(["sync", "--no-progress"], config, CONNECTOR_QUALYS_PROXY="")
    assert code == 0, output
    assert served.simulator.stats.calls["finding_search"] > 0


def test_an_unreachable_database_with_a_password_is_one_line_without_it(tmp_path: Path) -> None:
    """A PostgreSQL URL with a password that nothing answers: sync and test-connectivity fail
    in one line each, with debug JSON logs, and the password is in none of it."""
    db_url = f"postgresql+psycopg://dbuser:{DB_PASSWORD}@127.0.0.1:1/connector"
    config = write_config(
        tmp_path,
        "http://127.0.0.1:9",
        db_url,
        extra='[service]\nlog_format = "json"\nlog_level = "debug"\n',
    )
    code, output = cli(["sync", "--no-progress"], config)
    assert code == 1
    errors = [line for line in output.splitlines() if line.startswith("error:")]
    assert len(errors) == 1
    assert "postgresql+psycopg://dbuser:***@127.0.0.1:1/connector" in errors[0]
    code, output_connectivity = cli(["test-connectivity"], config)
    assert code != 0
    assert "Traceback" not in output + output_connectivity
    assert_no_secret(output + output_connectivity)
