"""Configuration: TOML plus environment, validated completely, secrets handled with care."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from connector.config import PLATFORMS, Secret, load_config, resolve_config_path
from connector.errors import ConfigError, ExitCode

ENV = {"QUALYS_PASSWORD": "pw-from-env"}
MINIMAL = '[qualys]\nusername = "acme_ab12"\n'


def write(tmp_path: Path, text: str, mode: int = 0o600) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text)
    path.chmod(mode)
    return path


def problems(path: Path | None, environ: dict[str, str]) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_config(path, environ)
    assert info.value.exit_code == ExitCode.CONFIG
    return info.value.problems


def test_minimal_file_gets_documented_defaults(tmp_path: Path) -> None:
    """A file with only a username plus QUALYS_PASSWORD yields the documented defaults."""
    config = load_config(write(tmp_path, MINIMAL), ENV)
    q = config.qualys
    assert (q.platform, q.api_url, q.username) == ("US1", PLATFORMS["US1"], "acme_ab12")
    assert q.password.reveal() == "pw-from-env"
    assert (q.timeout_seconds, q.page_size, q.kb_batch_size) == (300.0, 1000, 300)
    assert config.connector_name == "qualys-was"
    assert config.database_url == "sqlite:///data/connector.db"
    assert (config.schedule.time, config.schedule.timezone) == ("02:00", "UTC")
    assert len(config.schedule.days) == 7
    assert config.sync.pull_knowledge_base is True
    assert config.sync.pull_informational is False
    assert (config.service.host, config.service.port) == ("127.0.0.1", 9108)
    assert config.warnings == ()


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    """Unknown key and section, wrong type, platform, page size, time, day, zone, no password."""
    path = write(
        tmp_path,
        """
[qualys]
platform = "MARS1"
username = "acme_ab12"
page_size = 5000
timeout_seconds = "slow"
colour = "blue"
[schedule]
time = "25:61"
days = ["mon", "funday"]
timezone = "Mars/Olympus"
[extras]
x = 1
""",
    )
    found = problems(path, {})
    text = "\n".join(found)
    for expected in (
        "unknown key qualys.colour",
        "unknown section [extras]",
        "qualys.timeout_seconds must be a number, not str",
        "qualys.platform 'MARS1' is unknown",
        "qualys.page_size 5000 is out of range 1..1000",
        "schedule.time '25:61' must be HH:MM",
        "schedule.days",
        "schedule.timezone 'Mars/Olympus' is not a known IANA time zone",
        "no Qualys password",
    ):
        assert expected in text, expected
    assert len(found) == 9


def test_environment_overrides_every_section(tmp_path: Path) -> None:
    """CONNECTOR_<SECTION>_<KEY> overrides the file, parsed to the key's type."""
    path = write(tmp_path, MINIMAL + '[database]\nurl = "sqlite:///file.db"\n')
    config = load_config(
        path,
        {
            **ENV,
            "CONNECTOR_QUALYS_API_URL": "https://qualysapi.private.example/",
            "CONNECTOR_DATABASE_URL": "postgresql+psycopg://u@db/connector",
            "CONNECTOR_QUALYS_PAGE_SIZE": "250",
            "CONNECTOR_QUALYS_TIMEOUT_SECONDS": "12.5",
            "CONNECTOR_SYNC_PULL_INFORMATIONAL": "yes",
            "CONNECTOR_SCHEDULE_DAYS": "mon, fri",
            "CONNECTOR_CONNECTOR_NAME": "second",
        },
    )
    assert config.qualys.api_url == "https://qualysapi.private.example"
    assert config.qualys.platform is None
    assert config.database_url == "postgresql+psycopg://u@db/connector"
    assert config.qualys.page_size == 250
    assert config.qualys.timeout_seconds == 12.5
    assert config.sync.pull_informational is True
    assert config.schedule.days == ("mon", "fri")
    assert config.connector_name == "second"


def test_bad_environment_values_are_problems(tmp_path: Path) -> None:
    """An environment value of the wrong type is reported with the variable's name."""
    found = problems(
        write(tmp_path, MINIMAL),
        {
            **ENV,
            "CONNECTOR_QUALYS_PAGE_SIZE": "lots",
            "CONNECTOR_SYNC_PULL_KNOWLEDGE_BASE": "maybe",
        },
    )
    assert "CONNECTOR_QUALYS_PAGE_SIZE='lots' is not an integer" in found
    assert "CONNECTOR_SYNC_PULL_KNOWLEDGE_BASE='maybe' is not true or false" in found


def test_qualys_username_and_password_variables(tmp_path: Path) -> None:
    """QUALYS_USERNAME and QUALYS_PASSWORD win over the file; no file at all works too."""
    config = load_config(None, {"QUALYS_USERNAME": "env_user", "QUALYS_PASSWORD": "p"})
    assert (config.qualys.username, config.qualys.password.reveal()) == ("env_user", "p")
    assert config.source == "<environment>"


def test_password_file(tmp_path: Path) -> None:
    """qualys.password_file is read and stripped; the password never shows in repr."""
    secret = tmp_path / "qualys_password"
    secret.write_text("from-file\n")
    config = load_config(write(tmp_path, MINIMAL + f'password_file = "{secret}"\n'), {})
    assert config.qualys.password.reveal() == "from-file"
    assert "from-file" not in repr(config)
    assert config.warnings == ()


@pytest.mark.parametrize(("content", "words"), [(None, "cannot be read"), ("\n", "is empty")])
def test_password_file_missing_or_empty(tmp_path: Path, content: str | None, words: str) -> None:
    """A missing or empty password file is a problem naming the file."""
    secret = tmp_path / "pw"
    if content is not None:
        secret.write_text(content)
    found = problems(write(tmp_path, MINIMAL + f'password_file = "{secret}"\n'), {})
    assert any(str(secret) in p and words in p for p in found)


def test_password_file_that_is_not_text(tmp_path: Path) -> None:
    """A binary password file is a problem, not a crash."""
    secret = tmp_path / "pw"
    secret.write_bytes(b"\xff\xfe\x00")
    found = problems(write(tmp_path, MINIMAL + f'password_file = "{secret}"\n'), {})
    assert any("not UTF-8" in p for p in found)


def test_password_in_toml_is_accepted_with_a_warning(tmp_path: Path) -> None:
    """A password written in a private file works but warns once."""
    config = load_config(write(tmp_path, MINIMAL + 'password = "in-toml"\n'), {})
    assert config.qualys.password.reveal() == "in-toml"
    assert len(config.warnings) == 1
    assert "qualys.password is written in the config file" in config.warnings[0]


def test_world_readable_file_with_a_password_warns_twice(tmp_path: Path) -> None:
    """A password in a file other users can read adds a chmod 600 warning."""
    path = write(tmp_path, MINIMAL + 'password = "in-toml"\n', mode=0o644)
    config = load_config(path, {})
    assert len(config.warnings) == 2
    assert f"chmod 600 {path}" in config.warnings[1]


def test_password_in_toml_warns_even_when_the_environment_wins(tmp_path: Path) -> None:
    """The file still holds a secret when QUALYS_PASSWORD overrides it, so it still warns."""
    path = write(tmp_path, MINIMAL + 'password = "in-toml"\n', mode=0o644)
    config = load_config(path, ENV)
    assert config.qualys.password.reveal() == "pw-from-env"
    assert len(config.warnings) == 2


def test_world_readable_file_without_password_does_not_warn(tmp_path: Path) -> None:
    """A readable file without a secret is fine."""
    assert load_config(write(tmp_path, MINIMAL, mode=0o644), ENV).warnings == ()


@pytest.mark.parametrize("platform", ["US2", "eu3", "KSA1"])
def test_platforms_map_to_their_api_server(tmp_path: Path, platform: str) -> None:
    """Platform names (any case) select the API server from the table."""
    config = load_config(write(tmp_path, MINIMAL + f'platform = "{platform}"\n'), ENV)
    assert config.qualys.api_url == PLATFORMS[platform.upper()]
    assert config.qualys.platform == platform.upper()


def test_platform_table_has_the_right_eu3_and_ksa1() -> None:
    """EU3 and KSA1, which public tools get wrong, point at the documented servers."""
    assert PLATFORMS["EU3"] == "https://qualysapi.qg3.apps.qualys.it"
    assert PLATFORMS["KSA1"] == "https://qualysapi.qg1.apps.qualysksa.com"


@pytest.mark.parametrize("page_size", [0, 1001])
def test_page_size_range(tmp_path: Path, page_size: int) -> None:
    """page_size must lie in 1..1000."""
    found = problems(write(tmp_path, MINIMAL + f"page_size = {page_size}\n"), ENV)
    assert found == [f"qualys.page_size {page_size} is out of range 1..1000"]


@pytest.mark.parametrize("zone", ["America", "", "../etc/passwd", "Not/AZone"])
def test_bad_timezones_are_problems_not_crashes(tmp_path: Path, zone: str) -> None:
    """Directory names, empty and path-like zones are reported like unknown ones."""
    found = problems(write(tmp_path, MINIMAL + f'[schedule]\ntimezone = "{zone}"\n'), ENV)
    assert found == [f"schedule.timezone {zone!r} is not a known IANA time zone"]


@pytest.mark.parametrize("time", ["24:00", "7", "07:5", "noon"])
def test_bad_times(tmp_path: Path, time: str) -> None:
    """schedule.time must be HH:MM in 24-hour time."""
    found = problems(write(tmp_path, MINIMAL + f'[schedule]\ntime = "{time}"\n'), ENV)
    assert len(found) == 1
    assert "schedule.time" in found[0]


def test_days_are_case_insensitive(tmp_path: Path) -> None:
    """Days may be written in any case; an empty list is refused."""
    config = load_config(write(tmp_path, MINIMAL + '[schedule]\ndays = ["MON", "Fri"]\n'), ENV)
    assert config.schedule.days == ("mon", "fri")
    assert "schedule.days" in problems(write(tmp_path, MINIMAL + "[schedule]\ndays = []\n"), ENV)[0]


@pytest.mark.parametrize(
    ("content", "words"),
    [(b"[qualys\n", "not valid TOML"), (b"\xff\xfe[qualys]\n", "not UTF-8")],
)
def test_unreadable_files_are_problems(tmp_path: Path, content: bytes, words: str) -> None:
    """Invalid TOML and non-UTF-8 bytes are reported, not raised as tracebacks."""
    path = tmp_path / "config.toml"
    path.write_bytes(content)
    assert any(words in p for p in problems(path, ENV))


def test_missing_file_and_directory(tmp_path: Path) -> None:
    """A missing file and a directory given as the config file are both problems."""
    assert any("does not exist" in p for p in problems(tmp_path / "nope.toml", ENV))
    assert any("cannot be read" in p for p in problems(tmp_path, ENV))


def test_bool_is_not_an_integer(tmp_path: Path) -> None:
    """`page_size = true` is a type error, not 1."""
    found = problems(write(tmp_path, MINIMAL + "page_size = true\n"), ENV)
    assert found == ["qualys.page_size must be an integer, not bool"]


def test_config_path_resolution(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """--config wins, then $CONNECTOR_CONFIG, then ./config.toml if present."""
    monkeypatch.chdir(tmp_path)
    assert resolve_config_path("a.toml", {"CONNECTOR_CONFIG": "b.toml"}) == Path("a.toml")
    assert resolve_config_path(None, {"CONNECTOR_CONFIG": "b.toml"}) == Path("b.toml")
    assert resolve_config_path(None, {}) is None
    (tmp_path / "config.toml").write_text(MINIMAL)
    assert resolve_config_path(None, {}) == Path("config.toml")


def test_secret_hides_itself() -> None:
    """Secret never shows its value in str or repr."""
    secret = Secret("hunter2")
    assert "hunter2" not in f"{secret} {secret!r}"
    assert secret == Secret("hunter2")


# --- hostile values: one problem each, never a traceback, never a credential ------------------
SECRETS = ("ApiS3cret", "Pr0xyS3cret", "DbS3cret")


@pytest.mark.parametrize(
    ("line", "key"),
    [
        ("timeout_seconds = nan", "qualys.timeout_seconds nan"),
        ("timeout_seconds = inf", "qualys.timeout_seconds inf"),
        ("timeout_seconds = -inf", "qualys.timeout_seconds -inf"),
        ("timeout_seconds = 1e12", "qualys.timeout_seconds 1000000000000.0"),
        ("retry_max_wait_seconds = nan", "qualys.retry_max_wait_seconds nan"),
        ("retry_max_wait_seconds = inf", "qualys.retry_max_wait_seconds inf"),
        ("retry_max_attempts = 100000000000000000000", "qualys.retry_max_attempts"),
    ],
)
def test_non_finite_and_huge_numbers_in_the_file_are_problems(
    tmp_path: Path, line: str, key: str
) -> None:
    """nan, inf and numbers no socket or timer accepts (TOML allows them) are one problem each."""
    found = problems(write(tmp_path, MINIMAL + line + "\n"), ENV)
    assert len(found) == 1, found
    assert found[0].startswith(key)


@pytest.mark.parametrize("value", ["nan", "inf", "-Infinity", "1e999"])
@pytest.mark.parametrize("key", ["TIMEOUT_SECONDS", "RETRY_MAX_WAIT_SECONDS"])
def test_non_finite_numbers_in_the_environment_are_problems(
    tmp_path: Path, key: str, value: str
) -> None:
    """CONNECTOR_QUALYS_TIMEOUT_SECONDS=nan (or inf) is refused with the variable's name."""
    found = problems(write(tmp_path, MINIMAL), {**ENV, f"CONNECTOR_QUALYS_{key}": value})
    assert found == [f"CONNECTOR_QUALYS_{key}={value!r} is not a number"]


def test_retention_beyond_any_date_is_a_problem(tmp_path: Path) -> None:
    """A retention of a billion days (a date before year 1) is refused, not an overflow later."""
    found = problems(write(tmp_path, MINIMAL + "[sync]\nasset_retention_days = 1000000000\n"), ENV)
    assert found == ["sync.asset_retention_days 1000000000 is out of range 1..36500"]


def test_an_empty_proxy_variable_means_no_proxy(tmp_path: Path) -> None:
    """`CONNECTOR_QUALYS_PROXY=` (and an empty proxy or CA bundle in the file) means none,
    like an empty HTTPS_PROXY for curl: no problem, no proxy, even over the file's proxy."""
    with_proxy = write(tmp_path, MINIMAL + 'proxy = "http://proxy.internal:3128"\n')
    assert load_config(with_proxy, ENV).qualys.proxy == "http://proxy.internal:3128"
    environ = {**ENV, "CONNECTOR_QUALYS_PROXY": "", "CONNECTOR_QUALYS_CA_BUNDLE": " "}
    config = load_config(with_proxy, environ)
    assert (config.qualys.proxy, config.qualys.ca_bundle) == (None, None)
    assert load_config(None, {**environ, "QUALYS_USERNAME": "u"}).qualys.proxy is None
    empty_in_file = write(tmp_path, MINIMAL + 'proxy = ""\nca_bundle = ""\napi_url = ""\n')
    config = load_config(empty_in_file, ENV)
    assert (config.qualys.proxy, config.qualys.ca_bundle) == (None, None)
    assert config.qualys.api_url == PLATFORMS["US1"]


def test_an_empty_variable_for_a_key_with_a_default_is_still_a_problem(tmp_path: Path) -> None:
    """An empty CONNECTOR_DATABASE_URL is refused, not silently replaced by the default file."""
    found = problems(write(tmp_path, MINIMAL), {**ENV, "CONNECTOR_DATABASE_URL": ""})
    assert len(found) == 1
    assert found[0].startswith("database.url must start with sqlite:///")


URL_CASES = [
    pytest.param(
        "qualys",
        'api_url = "https://apiuser:ApiS3cret@qualysapi.example"',
        "qualys.api_url 'https://********@qualysapi.example' carries a user name or password",
        id="api-url-credentials",
    ),
    pytest.param(
        "qualys",
        'api_url = "ftp://qualysapi.example"',
        "qualys.api_url 'ftp://qualysapi.example' must start with https:// or http://",
        id="api-url-scheme",
    ),
    pytest.param(
        "qualys",
        'api_url = "https://qualysapi.example:443x"',
        "qualys.api_url https://... is not a valid URL",
        id="api-url-port",
    ),
    pytest.param(
        "qualys",
        'api_url = "https:///qps"',
        "qualys.api_url 'https:///qps' names no host and port",
        id="api-url-no-host",
    ),
    pytest.param(
        "qualys",
        'proxy = "gopher://puser:Pr0xyS3cret@proxy:3128"',
        "qualys.proxy 'gopher://********@proxy:3128' must start with http:// or https://",
        id="proxy-scheme-with-credentials",
    ),
    pytest.param(
        "qualys",
        'proxy = "puser:Pr0xyS3cret@proxy:3128"',
        "qualys.proxy is not a URL: write it like http://proxy:3128",
        id="proxy-without-scheme",
    ),
    pytest.param(
        "qualys",
        'proxy = "http://puser:Pr0xyS3cret@proxy:port"',
        "qualys.proxy http://... is not a valid URL",
        id="proxy-port",
    ),
    pytest.param(
        "qualys",
        'proxy = "http://puser:Pr0xy/S3cret"',
        "qualys.proxy http://... is not a valid URL",  # no @, yet what looks like a password
        id="proxy-no-host-password-shaped",
    ),
    pytest.param(
        "qualys",
        'proxy = "http://proxy:3128\\n"',
        "qualys.proxy 'http://proxy:3128\\n' contains spaces or control characters",
        id="proxy-newline",
    ),
    pytest.param(
        "database",
        'url = "postgresql+psycopg://dbuser:DbS3cret@db:abc/connector"',
        "database.url 'postgresql+psycopg://********@db:abc/connector' has a port that is not",
        id="database-port",
    ),
    pytest.param(
        "database",
        'url = "postgresql+psycopg://dbuser:DbS3cret@db:99999/connector"',
        "database.url 'postgresql+psycopg://********@db:99999/connector' has a port that is not",
        id="database-port-range",
    ),
    pytest.param(
        "database",
        'url = "mysql://dbuser:DbS3cret@db/connector"',
        "database.url must start with sqlite:/// or postgresql+psycopg:// (got mysql://...)",
        id="database-scheme",
    ),
    pytest.param(
        "database",
        'url = "postgresql+asyncpg://dbuser:DbS3cret@db/connector"',
        "database.url must start with sqlite:/// or postgresql+psycopg:// "
        "(got postgresql+asyncpg://...)",
        id="database-driver",
    ),
    pytest.param(
        "database",
        'url = "dbuser:DbS3cret@db/connector"',
        "database.url must start with sqlite:/// or postgresql+psycopg:// " "(got no URL scheme)",
        id="database-no-scheme",
    ),
    pytest.param(
        "database",
        'url = "postgresql+psycopg://dbuser:Db@S3cret@db/connector"',
        "database.url 'postgresql+psycopg://********@db/connector': write an @",
        id="database-at-in-password",
    ),
    pytest.param(
        "database",
        'url = "sqlite://data/connector.db"',
        "database.url 'sqlite://data/connector.db' names a host",
        id="sqlite-two-slashes",
    ),
]


@pytest.mark.parametrize(("section", "line", "expected"), URL_CASES)
def test_bad_urls_are_one_problem_without_the_credentials(
    tmp_path: Path, section: str, line: str, expected: str
) -> None:
    """Each malformed or unsupported URL is one problem naming it, with its credentials masked."""
    body = MINIMAL + line + "\n" if section == "qualys" else f"{MINIMAL}[{section}]\n{line}\n"
    found = problems(write(tmp_path, body), ENV)
    assert len(found) == 1, found
    assert found[0].startswith(expected), found[0]
    assert not any(secret in found[0] for secret in ("S3cret", "Pr0xy", "DbS3"))


def test_every_hostile_value_is_listed_at_once(tmp_path: Path) -> None:
    """nan, inf, URLs with credentials and bad schemes, a bad database port: all in one error,
    and no password in its message."""
    path = write(
        tmp_path,
        """
[qualys]
username = "u"
api_url = "ftp://apiuser:ApiS3cret@qualysapi.example"
proxy = "gopher://puser:Pr0xyS3cret@proxy:3128"
timeout_seconds = nan
retry_max_wait_seconds = inf
[database]
url = "postgresql+psycopg://dbuser:DbS3cret@db:abc/x"
""",
    )
    with pytest.raises(ConfigError) as info:
        load_config(path, ENV)
    found = info.value.problems
    assert [p.split(" ")[0] for p in found] == [
        "qualys.api_url",  # scheme
        "qualys.api_url",  # credentials
        "qualys.proxy",
        "qualys.timeout_seconds",
        "qualys.retry_max_wait_seconds",
        "database.url",
    ]
    assert not any(secret in str(info.value) for secret in SECRETS)


ACCEPTED_PROXIES = [
    "http://proxy:3128",
    "https://proxy.example",
    "http://user:p%40ss@proxy:8080",
    "http://user:p@ss@proxy:8080",  # the last @ ends the credentials, for httpx and urllib alike
    "http://[::1]:3128",
    "socks5://proxy:1080",
]
ACCEPTED_DATABASES = [
    "sqlite:///data/connector.db",
    "sqlite:////abs/connector.db",
    "sqlite://",
    "sqlite+pysqlite:///x.db",
    "postgresql://u@h/db",
    "postgresql+psycopg://user:p%40ss@db.internal:5432/qualys?sslmode=require",
    "postgresql+psycopg://u@[::1]:5432/db",
    "postgresql+psycopg:///db?host=/var/run/postgresql",
]


@pytest.mark.parametrize("proxy", ACCEPTED_PROXIES)
def test_accepted_proxies_are_ones_httpx_takes(tmp_path: Path, proxy: str) -> None:
    """A proxy URL that passes validation is one httpx can use (no failure left for later)."""
    config = load_config(write(tmp_path, MINIMAL + f'proxy = "{proxy}"\n'), ENV)
    assert config.qualys.proxy == proxy
    assert httpx.URL(proxy).host
    if not proxy.startswith("socks"):  # SOCKS needs the optional socksio package
        httpx.Client(proxy=proxy).close()


@pytest.mark.parametrize("url", ACCEPTED_DATABASES)
def test_accepted_database_urls_are_ones_sqlalchemy_parses(tmp_path: Path, url: str) -> None:
    """A database URL that passes validation parses in SQLAlchemy, port and all."""
    config = load_config(write(tmp_path, f'{MINIMAL}[database]\nurl = "{url}"\n'), ENV)
    assert config.database_url == url
    parsed = sa.make_url(url)
    assert parsed.get_backend_name() in ("sqlite", "postgresql")
