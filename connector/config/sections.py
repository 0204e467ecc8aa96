"""Each section's values validated and built into its settings (every problem appended to one
list, so a user sees them all at once)."""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from connector.config.settings import (
    DEFAULT_SEVERITY_FALLBACK,
    LOG_FORMATS,
    LOG_LEVELS,
    PLATFORMS,
    WEEKDAYS,
    Config,
    ImportSettings,
    QualysSettings,
    ScheduleSettings,
    Secret,
    ServiceSettings,
    SyncSettings,
    WebSettings,
)
from connector.models import Severity
from connector.urlcheck import (
    API_URL_SCHEMES,
    PROXY_SCHEMES,
    database_url_problems,
    has_userinfo,
    mask_credentials,
    url_problems,
)

_TIME_RE = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")


# Upper bounds for numbers that the libraries below turn into timeouts and dates: beyond these a
# socket timeout or a date overflows (a traceback), and no real deployment needs more.
MAX_SECONDS = 86_400  # one day: qualys.timeout_seconds, qualys.retry_max_wait_seconds


MAX_RETRY_ATTEMPTS = 100


MAX_RETENTION_DAYS = 36_500


_LISTEN_RE = re.compile(r"^(?P<host>\[[0-9a-fA-F:]+\]|[^:\s]+):(?P<port>\d{1,5})$")


def build_config(
    values: dict[str, dict[str, Any]],
    password: Secret | None,
    web_password: Secret | None,
    problems: list[str],
) -> Config | None:
    name = values["connector"]["name"]
    if not isinstance(name, str) or not name.strip() or len(name) > 100:
        problems.append("connector.name must be a non-empty string of at most 100 characters")
    qualys = _build_qualys(values["qualys"], password, problems)
    sync = _build_sync(values["sync"], problems)
    schedule = _build_schedule(values["schedule"], problems)
    service = _build_service(values["service"], problems)
    web = _build_web(values["web"], web_password, problems)
    url = values["database"]["url"]
    problems.extend(database_url_problems(url))
    if values["import"]["evidence_max_bytes"] < 0:
        problems.append("import.evidence_max_bytes must not be negative")
    if (
        problems
        or qualys is None
        or sync is None
        or schedule is None
        or service is None
        or web is None
    ):
        return None
    return Config(
        connector_name=name.strip(),
        qualys=qualys,
        database_url=url,
        sync=sync,
        schedule=schedule,
        import_=ImportSettings(evidence_max_bytes=values["import"]["evidence_max_bytes"]),
        service=service,
        web=web,
    )


def _build_qualys(
    q: dict[str, Any], password: Secret | None, problems: list[str]
) -> QualysSettings | None:
    api_url = q["api_url"] or None
    proxy = q["proxy"] or None  # an empty proxy (file or environment) means no proxy
    ca_bundle = q["ca_bundle"] or None
    platform = q["platform"]
    if api_url:
        problems.extend(
            url_problems(
                "qualys.api_url", api_url, API_URL_SCHEMES, example="https://qualysapi.example.com"
            )
        )
        if has_userinfo(api_url):
            problems.append(
                f"qualys.api_url {mask_credentials(api_url)!r} carries a user name or password: "
                "remove it, and set qualys.username and QUALYS_PASSWORD / qualys.password_file"
            )
        platform = None
    elif str(platform).upper() not in PLATFORMS:
        problems.append(
            f"qualys.platform {platform!r} is unknown (known: {', '.join(PLATFORMS)}); "
            "or set qualys.api_url for a private cloud"
        )
    else:
        platform = str(platform).upper()
        api_url = PLATFORMS[platform]
    if proxy:
        problems.extend(
            url_problems("qualys.proxy", proxy, PROXY_SCHEMES, example="http://proxy:3128")
        )
    checks = (
        (not q["username"], "no Qualys username: set qualys.username or QUALYS_USERNAME"),
        (
            not 1 <= q["page_size"] <= 1000,
            f"qualys.page_size {q['page_size']} is out of range 1..1000",
        ),
        (
            not _in_range(q["timeout_seconds"], 0, MAX_SECONDS, low_inclusive=False),
            f"qualys.timeout_seconds {q['timeout_seconds']} must be a number of seconds "
            f"greater than 0 and at most {MAX_SECONDS}",
        ),
        (
            not 1 <= q["concurrency"] <= 8,
            f"qualys.concurrency {q['concurrency']} is out of range 1..8",
        ),
        (
            not 1 <= q["kb_batch_size"] <= 300,
            f"qualys.kb_batch_size {q['kb_batch_size']} is out of range 1..300",
        ),
        (
            not 1 <= q["retry_max_attempts"] <= MAX_RETRY_ATTEMPTS,
            f"qualys.retry_max_attempts {q['retry_max_attempts']} is out of range "
            f"1..{MAX_RETRY_ATTEMPTS}",
        ),
        (
            not _in_range(q["retry_max_wait_seconds"], 0, MAX_SECONDS),
            f"qualys.retry_max_wait_seconds {q['retry_max_wait_seconds']} must be a number of "
            f"seconds from 0 to {MAX_SECONDS}",
        ),
        (
            bool(ca_bundle) and not Path(str(ca_bundle)).is_file(),
            f"qualys.ca_bundle {ca_bundle} is not a readable file",
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
        proxy=proxy,
        ca_bundle=ca_bundle,
        timeout_seconds=float(q["timeout_seconds"]),
        page_size=q["page_size"],
        concurrency=q["concurrency"],
        kb_batch_size=q["kb_batch_size"],
        retry_max_attempts=q["retry_max_attempts"],
        retry_max_wait_seconds=float(q["retry_max_wait_seconds"]),
    )


def _in_range(value: float, low: float, high: float, *, low_inclusive: bool = True) -> bool:
    """low <= value <= high (low < value with low_inclusive=False); nan and inf never are."""
    if not math.isfinite(value):
        return False
    return (low <= value if low_inclusive else low < value) and value <= high


def _build_sync(s: dict[str, Any], problems: list[str]) -> SyncSettings | None:
    if not 1 <= s["asset_retention_days"] <= MAX_RETENTION_DAYS:
        problems.append(
            f"sync.asset_retention_days {s['asset_retention_days']} is out of range "
            f"1..{MAX_RETENTION_DAYS}"
        )
    if not 0 <= s["full_sync_every_days"] <= MAX_RETENTION_DAYS:
        problems.append(
            f"sync.full_sync_every_days {s['full_sync_every_days']} is out of range "
            f"0..{MAX_RETENTION_DAYS} (0: every sync is full)"
        )
    if not 1 <= s["max_listing_minutes"] <= 7 * 24 * 60:
        problems.append(
            f"sync.max_listing_minutes {s['max_listing_minutes']} is out of range 1..10080"
        )
    fallback = _severity_fallback(s["severity_fallback"], problems)
    if fallback is None:
        return None
    return SyncSettings(
        pull_informational=s["pull_informational"],
        pull_knowledge_base=s["pull_knowledge_base"],
        asset_retention_days=s["asset_retention_days"],
        validate_after=s["validate_after"],
        severity_fallback=fallback,
        full_sync_every_days=s["full_sync_every_days"],
        max_listing_minutes=s["max_listing_minutes"],
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


def _build_web(
    web: dict[str, Any], password: Secret | None, problems: list[str]
) -> WebSettings | None:
    listen = _LISTEN_RE.match(web["listen"])
    if listen is None or not 0 < int(listen["port"]) < 65536:
        problems.append(f"web.listen {web['listen']!r} must be HOST:PORT")
    if not str(web["username"]).strip():
        problems.append("web.username must not be empty")
    if not 5 <= web["session_minutes"] <= 7 * 24 * 60:
        problems.append("web.session_minutes must be between 5 and 10080 (a week)")
    if not 1 <= web["upload_max_mb"] <= 100_000:
        problems.append("web.upload_max_mb must be between 1 and 100000")
    if listen is None:
        return None
    return WebSettings(
        host=listen["host"].strip("[]"),
        port=int(listen["port"]),
        username=str(web["username"]).strip(),
        password=password,
        session_minutes=web["session_minutes"],
        upload_max_mb=web["upload_max_mb"],
        secure_cookie=web["secure_cookie"],
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
