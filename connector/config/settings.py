"""The frozen configuration: one settings dataclass per section, the platforms, and secrets
that never show themselves. Pure data: building and validating them is `sections`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from connector.models import INFORMATION_GATHERED, SYNCED_FINDING_TYPES, Severity

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


LOG_FORMATS = ("auto", "text", "json", "ecs")


LOG_LEVELS = ("debug", "info", "warning", "error")


# The seed's fallback when no CVSS v3 score exists: Qualys severity level -> label.
DEFAULT_SEVERITY_FALLBACK: dict[int, Severity] = {
    5: Severity.CRITICAL,
    4: Severity.HIGH,
    3: Severity.MEDIUM,
    2: Severity.LOW,
    1: Severity.LOW,
}


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
    full_sync_every_days: int = 7  # 0: every sync is a full one
    max_listing_minutes: int = 720  # a listing still going after this long is given up

    @property
    def finding_types(self) -> tuple[str, ...]:
        """The finding types a sync fetches (and may therefore close)."""
        if self.pull_informational:
            return (*SYNCED_FINDING_TYPES, INFORMATION_GATHERED)
        return SYNCED_FINDING_TYPES


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
class WebSettings:
    """The web console. Without a password there is no console (there is no anonymous mode)."""

    host: str = "127.0.0.1"
    port: int = 8080
    username: str = "admin"
    password: Secret | None = field(default=None, repr=False)
    session_minutes: int = 480
    upload_max_mb: int = 100
    secure_cookie: bool = False

    @property
    def upload_max_bytes(self) -> int:
        return self.upload_max_mb * 1024 * 1024


@dataclass(frozen=True)
class Config:
    connector_name: str
    qualys: QualysSettings
    database_url: str = "sqlite:///data/connector.db"
    sync: SyncSettings = field(default_factory=SyncSettings)
    schedule: ScheduleSettings = field(default_factory=ScheduleSettings)
    import_: ImportSettings = field(default_factory=ImportSettings)
    service: ServiceSettings = field(default_factory=ServiceSettings)
    web: WebSettings = field(default_factory=WebSettings)
    source: str = "<defaults>"
    warnings: tuple[str, ...] = ()


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
