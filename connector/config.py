"""Configuration: read once from TOML and the environment, validated completely, then frozen.

Every problem is collected and reported together (`ConfigError.problems`). Secrets come from the
environment or a file; a password written in the TOML file is accepted but produces a warning.
"""

from __future__ import annotations

import os
import re
import stat
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from connector.errors import ConfigError
from connector.models import Severity

PLATFORMS: dict[str, str] = {
    "US1": "https://qualysapi.qualys.com",
    "US2": "https://qualysapi.qg2.apps.qualys.com",
    "US3": "https://qualysapi.qg3.apps.qualys.com",
    "US4": "https://qualysapi.qg4.apps.qualys.com",
    "GOV1": "https://qualysapi.gov1.qualys.us",
    "EU1": "https://qualysapi.qualys.eu",
    "EU2": "https://qualysapi.qg2.apps.qualys.eu",
    "EU3": "https://qualysapi.qg3.apps.qualys.it",
    "IN1": "https://qualysapi.qg1.apps.qualys.in",
    "CA1": "https://qualysapi.qg1.apps.qualys.ca",
    "AE1": "https://qualysapi.qg1.apps.qualys.ae",
    "UK1": "https://qualysapi.qg1.apps.qualys.co.uk",
    "AU1": "https://qualysapi.qg1.apps.qualys.com.au",
    "KSA1": "https://qualysapi.qg1.apps.qualysksa.com",
}

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
LOG_FORMATS = ("auto", "text", "json")
LOG_LEVELS = ("debug", "info", "warning", "error")

# The seed's fallback when no CVSS v3 score exists: Qualys severity level -> label.
DEFAULT_SEVERITY_FALLBACK: dict[int, Severity] = {
    5: Severity.CRITICAL,
    4: Severity.HIGH,
    3: Severity.MEDIUM,
    2: Severity.LOW,
    1: Severity.LOW,
}

DEFAULT_CONFIG_PATH = Path("config.toml")
MISSING_LOGIN_PROBLEM = "no Qualys password: set QUALYS_PASSWORD or qualys.password_file"


class Secret:
    """A string that never shows itself in repr, str or logs."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('********')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


@dataclass(frozen=True)
class QualysSettings:
    api_url: str
    username: str
    password: Secret = field(repr=False)
    platform: str | None = "US1"
    proxy: str | None = None
    ca_bundle: str | None = None
    timeout_seconds: float = 300.0
    page_size: int = 1000
    concurrency: int = (
        1  # WAS calls in flight at once during a sync (Qualys allows 2 on most tiers)
    )
    kb_batch_size: int = 300
    retry_max_attempts: int = 8
    retry_max_wait_seconds: float = 1800.0  # total time spent waiting across retries of one call


@dataclass(frozen=True)
class SyncSettings:
    pull_informational: bool = False
    pull_knowledge_base: bool = True
    asset_retention_days: int = 30
    validate_after: bool = False
    severity_fallback: Mapping[int, Severity] = field(
        default_factory=lambda: dict(DEFAULT_SEVERITY_FALLBACK)
    )


@dataclass(frozen=True)
class ScheduleSettings:
    hour: int = 2
    minute: int = 0
    days: tuple[str, ...] = WEEKDAYS
    timezone: str = "UTC"

    @property
    def time(self) -> str:
        return f"{self.hour:02d}:{self.minute:02d}"


@dataclass(frozen=True)
class ImportSettings:
    evidence_max_bytes: int = 65536


@dataclass(frozen=True)
class ServiceSettings:
    host: str = "127.0.0.1"
    port: int = 9108
    log_format: str = "auto"
    log_level: str = "info"


@dataclass(frozen=True)
class Config:
    connector_name: str
    qualys: QualysSettings
    database_url: str = "sqlite:///data/connector.db"
    sync: SyncSettings = field(default_factory=SyncSettings)
    schedule: ScheduleSettings = field(default_factory=ScheduleSettings)
    import_: ImportSettings = field(default_factory=ImportSettings)
    service: ServiceSettings = field(default_factory=ServiceSettings)
    source: str = "<defaults>"
    warnings: tuple[str, ...] = ()


# The key table: section -> key -> (type, default). A user contract: see config.example.toml.
_Spec = dict[str, dict[str, tuple[type | tuple[type, ...], Any]]]
KEYS: _Spec = {
    "connector": {"name": (str, "qualys-was")},
    "qualys": {
        "platform": (str, "US1"),
        "api_url": (str, None),
        "username": (str, None),
        "password": (str, None),
        "password_file": (str, None),
        "proxy": (str, None),
        "ca_bundle": (str, None),
        "timeout_seconds": ((int, float), 300),
        "page_size": (int, 1000),
        "concurrency": (int, 1),
        "kb_batch_size": (int, 300),
        "retry_max_attempts": (int, 8),
        "retry_max_wait_seconds": ((int, float), 1800),
    },
    "sync": {
        "pull_informational": (bool, False),
        "pull_knowledge_base": (bool, True),
        "asset_retention_days": (int, 30),
        "validate_after": (bool, False),
        "severity_fallback": (dict, None),
    },
    "schedule": {
        "time": (str, "02:00"),
        "days": (list, list(WEEKDAYS)),
        "timezone": (str, "UTC"),
    },
    "database": {"url": (str, "sqlite:///data/connector.db")},
    "import": {"evidence_max_bytes": (int, 65536)},
    "service": {
        "listen": (str, "127.0.0.1:9108"),
        "log_format": (str, "auto"),
        "log_level": (str, "info"),
    },
}

_TIME_RE = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")
_LISTEN_RE = re.compile(r"^(?P<host>\[[0-9a-fA-F:]+\]|[^:\s]+):(?P<port>\d{1,5})$")


def resolve_config_path(cli_path: str | None, environ: Mapping[str, str]) -> Path | None:
    """`--config`, then `$CONNECTOR_CONFIG`, then `./config.toml` if it exists."""
    if cli_path:
        return Path(cli_path)
    if environ.get("CONNECTOR_CONFIG"):
        return Path(environ["CONNECTOR_CONFIG"])
    return DEFAULT_CONFIG_PATH if DEFAULT_CONFIG_PATH.exists() else None


def load_config(
    path: Path | None, environ: Mapping[str, str], *, require_credentials: bool = True
) -> Config:
    """Read the TOML file (if any), apply the environment, validate everything, freeze.

    Commands that never call Qualys (export, import, db) pass require_credentials=False: a
    missing username or password is then not a problem (the password stays empty)."""
    problems: list[str] = []
    warnings: list[str] = []
    raw: dict[str, Any] = {}
    if path is not None:
        raw = _read_toml(path, problems)
    values = _merge_defaults(raw, problems)
    _apply_environment(values, environ, problems)
    password = _resolve_password(values, raw, path, environ, problems, warnings)
    if password is None and not require_credentials:
        password = Secret("")
    elif password is None and not values["qualys"]["password_file"]:
        problems.append(MISSING_LOGIN_PROBLEM)
    if not values["qualys"]["username"] and not require_credentials:
        values["qualys"]["username"] = "(not configured)"
    config = _build(values, password, problems)
    if problems or config is None:
        raise ConfigError(problems)
    source = str(path) if path is not None else "<environment>"
    return replace(config, source=source, warnings=tuple(warnings))


def _read_toml(path: Path, problems: list[str]) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        problems.append(f"config file {path} does not exist: create it from config.example.toml")
    except PermissionError:
        problems.append(f"config file {path} is not readable by this user: fix its permissions")
    except tomllib.TOMLDecodeError as exc:
        problems.append(f"config file {path} is not valid TOML: {exc}")
    except UnicodeDecodeError as exc:
        problems.append(f"config file {path} is not UTF-8 text ({exc.reason} at byte {exc.start})")
    except OSError as exc:  # a directory, an I/O error...
        problems.append(f"config file {path} cannot be read: {exc.strerror or exc}")
    return {}


def _merge_defaults(raw: dict[str, Any], problems: list[str]) -> dict[str, dict[str, Any]]:
    values: dict[str, dict[str, Any]] = {
        section: {key: default for key, (_, default) in keys.items()}
        for section, keys in KEYS.items()
    }
    for section, table in raw.items():
        if section not in KEYS:
            problems.append(f"unknown section [{section}] (known: {', '.join(KEYS)})")
            continue
        if not isinstance(table, dict):
            problems.append(f"[{section}] must be a table")
            continue
        for key, value in table.items():
            if key not in KEYS[section]:
                problems.append(f"unknown key {section}.{key} (known: {', '.join(KEYS[section])})")
                continue
            expected, _ = KEYS[section][key]
            if not _is_type(value, expected):
                problems.append(
                    f"{section}.{key} must be {_type_name(expected)}, not {type(value).__name__}"
                )
                continue
            values[section][key] = value
    return values


def _is_type(value: Any, expected: type | tuple[type, ...]) -> bool:
    if isinstance(value, bool):  # bool is an int subclass; only accept it where bool is meant
        return expected is bool
    return isinstance(value, expected)


def _type_name(expected: type | tuple[type, ...]) -> str:
    names = {
        bool: "true or false",
        int: "an integer",
        float: "a number",
        str: "a string",
        list: "a list",
        dict: "a table",
    }
    if isinstance(expected, tuple):
        return "a number"
    return names.get(expected, expected.__name__)


def _apply_environment(
    values: dict[str, dict[str, Any]], environ: Mapping[str, str], problems: list[str]
) -> None:
    for section, keys in KEYS.items():
        for key, (expected, _) in keys.items():
            name = f"CONNECTOR_{section.upper()}_{key.upper()}"
            if name in environ:
                parsed = _parse_env(environ[name], expected)
                if parsed is None:
                    problems.append(f"{name}={environ[name]!r} is not {_type_name(expected)}")
                else:
                    values[section][key] = parsed
    if environ.get("QUALYS_USERNAME"):
        values["qualys"]["username"] = environ["QUALYS_USERNAME"]


def _parse_env(text: str, expected: type | tuple[type, ...]) -> Any:  # noqa: PLR0911
    if expected is bool:
        return {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}.get(
            text.strip().lower()
        )
    if expected is int:
        try:
            return int(text)
        except ValueError:
            return None
    if isinstance(expected, tuple):
        try:
            return float(text)
        except ValueError:
            return None
    if expected is list:
        return [item.strip() for item in text.split(",") if item.strip()]
    if expected is dict:
        try:
            parsed = tomllib.loads(f"v = {text}")["v"]
        except tomllib.TOMLDecodeError:
            return None
        return parsed if isinstance(parsed, dict) else None
    return text


def _resolve_password(
    values: dict[str, dict[str, Any]],
    raw: dict[str, Any],
    path: Path | None,
    environ: Mapping[str, str],
    problems: list[str],
    warnings: list[str],
) -> Secret | None:
    qualys = values["qualys"]
    in_file = raw.get("qualys", {}).get("password") if isinstance(raw.get("qualys"), dict) else None
    if in_file:
        warnings.append(
            "qualys.password is written in the config file: prefer QUALYS_PASSWORD or "
            "qualys.password_file"
        )
        if path is not None and _readable_by_others(path):
            warnings.append(
                f"config file {path} holds a password and is readable by other users: "
                f"chmod 600 {path}"
            )
    if environ.get("QUALYS_PASSWORD"):
        return Secret(environ["QUALYS_PASSWORD"])
    if qualys["password_file"]:
        secret_path = Path(qualys["password_file"])
        try:
            text = secret_path.read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as exc:
            why = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
            problems.append(
                f"qualys.password_file {secret_path} cannot be read ({why}): "
                "mount the secret there or fix its permissions"
            )
            return None
        if not text:
            problems.append(f"qualys.password_file {secret_path} is empty")
            return None
        return Secret(text)
    if qualys["password"]:
        return Secret(str(qualys["password"]))
    return None


def _readable_by_others(path: Path) -> bool:
    try:
        mode = path.stat().st_mode
    except OSError:
        return False
    return bool(mode & (stat.S_IRGRP | stat.S_IROTH))


def _build(
    values: dict[str, dict[str, Any]], password: Secret | None, problems: list[str]
) -> Config | None:
    name = values["connector"]["name"]
    if not isinstance(name, str) or not name.strip() or len(name) > 100:
        problems.append("connector.name must be a non-empty string of at most 100 characters")
    qualys = _build_qualys(values["qualys"], password, problems)
    sync = _build_sync(values["sync"], problems)
    schedule = _build_schedule(values["schedule"], problems)
    service = _build_service(values["service"], problems)
    url = values["database"]["url"]
    if not re.match(r"^(sqlite|postgresql)(\+\w+)?://", url):
        problems.append(
            "database.url must start with sqlite:/// or postgresql+psycopg:// "
            f"(got {url.split(':')[0]}:...)"
        )
    if values["import"]["evidence_max_bytes"] < 0:
        problems.append("import.evidence_max_bytes must not be negative")
    if problems or qualys is None or sync is None or schedule is None or service is None:
        return None
    return Config(
        connector_name=name.strip(),
        qualys=qualys,
        database_url=url,
        sync=sync,
        schedule=schedule,
        import_=ImportSettings(evidence_max_bytes=values["import"]["evidence_max_bytes"]),
        service=service,
    )


def _build_qualys(
    q: dict[str, Any], password: Secret | None, problems: list[str]
) -> QualysSettings | None:
    api_url = q["api_url"]
    platform = q["platform"]
    if api_url:
        if not re.match(r"^https?://[^\s/]+", api_url):
            problems.append(f"qualys.api_url {api_url!r} must be a full URL like https://host")
        platform = None
    elif str(platform).upper() not in PLATFORMS:
        problems.append(
            f"qualys.platform {platform!r} is unknown (known: {', '.join(PLATFORMS)}); "
            "or set qualys.api_url for a private cloud"
        )
    else:
        platform = str(platform).upper()
        api_url = PLATFORMS[platform]
    checks = (
        (not q["username"], "no Qualys username: set qualys.username or QUALYS_USERNAME"),
        (
            not 1 <= q["page_size"] <= 1000,
            f"qualys.page_size {q['page_size']} is out of range 1..1000",
        ),
        (q["timeout_seconds"] <= 0, "qualys.timeout_seconds must be greater than 0"),
        (
            not 1 <= q["concurrency"] <= 8,
            f"qualys.concurrency {q['concurrency']} is out of range 1..8",
        ),
        (
            not 1 <= q["kb_batch_size"] <= 300,
            f"qualys.kb_batch_size {q['kb_batch_size']} is out of range 1..300",
        ),
        (q["retry_max_attempts"] < 1, "qualys.retry_max_attempts must be at least 1"),
        (q["retry_max_wait_seconds"] < 0, "qualys.retry_max_wait_seconds must not be negative"),
        (
            bool(q["proxy"]) and not re.match(r"^(https?|socks5h?)://", q["proxy"]),
            f"qualys.proxy {q['proxy']!r} must be a URL like http://proxy:3128",
        ),
        (
            bool(q["ca_bundle"]) and not Path(q["ca_bundle"]).is_file(),
            f"qualys.ca_bundle {q['ca_bundle']} is not a readable file",
        ),
    )
    problems.extend(message for failed, message in checks if failed)
    if password is None or problems:
        return None
    return QualysSettings(
        api_url=str(api_url).rstrip("/"),
        username=q["username"],
        password=password,
        platform=platform,
        proxy=q["proxy"],
        ca_bundle=q["ca_bundle"],
        timeout_seconds=float(q["timeout_seconds"]),
        page_size=q["page_size"],
        concurrency=q["concurrency"],
        kb_batch_size=q["kb_batch_size"],
        retry_max_attempts=q["retry_max_attempts"],
        retry_max_wait_seconds=float(q["retry_max_wait_seconds"]),
    )


def _build_sync(s: dict[str, Any], problems: list[str]) -> SyncSettings | None:
    if s["asset_retention_days"] < 1:
        problems.append("sync.asset_retention_days must be at least 1")
    fallback = _severity_fallback(s["severity_fallback"], problems)
    if fallback is None:
        return None
    return SyncSettings(
        pull_informational=s["pull_informational"],
        pull_knowledge_base=s["pull_knowledge_base"],
        asset_retention_days=s["asset_retention_days"],
        validate_after=s["validate_after"],
        severity_fallback=fallback,
    )


def _build_schedule(sch: dict[str, Any], problems: list[str]) -> ScheduleSettings | None:
    match = _TIME_RE.match(sch["time"]) if isinstance(sch["time"], str) else None
    if match is None:
        problems.append(f"schedule.time {sch['time']!r} must be HH:MM in 24-hour time")
    days = [str(d).lower() for d in sch["days"]]
    if not days or any(d not in WEEKDAYS for d in days):
        problems.append(
            f"schedule.days {sch['days']!r} must be a non-empty list of {', '.join(WEEKDAYS)}"
        )
    try:
        ZoneInfo(sch["timezone"])
    except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a directory like "America"
        problems.append(f"schedule.timezone {sch['timezone']!r} is not a known IANA time zone")
        return None
    if match is None:
        return None
    return ScheduleSettings(
        hour=int(match[1]), minute=int(match[2]), days=tuple(days), timezone=sch["timezone"]
    )


def _build_service(svc: dict[str, Any], problems: list[str]) -> ServiceSettings | None:
    listen = _LISTEN_RE.match(svc["listen"])
    if listen is None or not 0 < int(listen["port"]) < 65536:
        problems.append(f"service.listen {svc['listen']!r} must be HOST:PORT")
    if svc["log_format"] not in LOG_FORMATS:
        problems.append(f"service.log_format must be one of {', '.join(LOG_FORMATS)}")
    if str(svc["log_level"]).lower() not in LOG_LEVELS:
        problems.append(f"service.log_level must be one of {', '.join(LOG_LEVELS)}")
    if listen is None:
        return None
    return ServiceSettings(
        host=listen["host"].strip("[]"),
        port=int(listen["port"]),
        log_format=svc["log_format"],
        log_level=str(svc["log_level"]).lower(),
    )


def _severity_fallback(
    table: dict[str, Any] | None, problems: list[str]
) -> dict[int, Severity] | None:
    if table is None:
        return dict(DEFAULT_SEVERITY_FALLBACK)
    labels = {s.value.lower(): s for s in Severity}
    result = dict(DEFAULT_SEVERITY_FALLBACK)
    ok = True
    for level, label in table.items():
        if not str(level).isdigit() or not 1 <= int(level) <= 5:
            problems.append(f"sync.severity_fallback key {level!r} must be a level 1..5")
            ok = False
        elif str(label).lower() not in labels:
            problems.append(
                f"sync.severity_fallback.{level} = {label!r} must be one of "
                f"{', '.join(s.value for s in Severity)}"
            )
            ok = False
        else:
            result[int(level)] = labels[str(label).lower()]
    return result if ok else None


def config_for_tests(**overrides: Any) -> Config:
    """A valid Config pointing at a simulator, for tests and benchmarks (no file, no env)."""
    qualys: dict[str, Any] = {
        "api_url": "http://127.0.0.1:9",
        "username": "sim_user",
        "password": Secret("sim-password"),
        "platform": None,
    }
    qualys.update(overrides.pop("qualys", {}))
    return Config(
        connector_name=overrides.pop("connector_name", "qualys-was"),
        qualys=QualysSettings(**qualys),
        **overrides,
    )


def environ_snapshot() -> dict[str, str]:
    """The process environment, read once at the edge (cli) and passed down."""
    return dict(os.environ)
