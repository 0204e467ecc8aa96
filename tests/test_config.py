"""Configuration: TOML plus environment, validated completely, secrets handled with care."""

from __future__ import annotations

from pathlib import Path

import pytest

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
