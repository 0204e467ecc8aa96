"""`test-connectivity`: run each check in order, stopping where later ones lose their meaning.

Checks: configuration -> API server (DNS + TLS, via the proxy) -> credentials -> WAS search ->
KB read (when sync.pull_knowledge_base) -> database reachable and schema current. Nothing is written
to Qualys or to the database.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from connector.config import Config, QualysSettings
from connector.errors import ConfigError, ConnectorError, ExitCode
from connector.qualys.client import QualysClient
from connector.qualys.probe import probe_server
from connector.store.database import (
    check_database,
    create_engine_for,
    missing_sqlite_file,
    redact,
    schema_status,
)

if TYPE_CHECKING:
    import httpx
    from sqlalchemy.engine import Engine

CONFIGURATION = "configuration"
API_SERVER = "api server"
CREDENTIALS = "credentials"
SEARCH = "search"
KNOWLEDGE_BASE = "knowledge base"
DATABASE = "database"
CHECK_NAMES = (CONFIGURATION, API_SERVER, CREDENTIALS, SEARCH, KNOWLEDGE_BASE, DATABASE)

KB_PROBE_QID = 150001  # a long-standing WAS QID (cross-site scripting)
# A connectivity test should answer in seconds, not wait out a rate limit for half an hour.
PROBE_MAX_ATTEMPTS = 3
PROBE_MAX_WAIT_SECONDS = 30.0


@dataclass(frozen=True)
class CheckResult:
    name: str
    ok: bool
    detail: str
    skipped: bool = False
    exit_code: ExitCode = ExitCode.OK  # what this failure means for the process
    warning: bool = False  # passed, but something needs attention (e.g. no database yet)

    @property
    def status(self) -> str:
        if self.skipped:
            return "skipped"
        if self.warning:
            return "warning"
        return "ok" if self.ok else "FAILED"

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "status": self.status, "ok": self.ok, "detail": self.detail}


def exit_code_for(results: list[CheckResult]) -> ExitCode:
    """The first failed check decides: 2 configuration, 3 Qualys refused/unreachable, 1 other."""
    for result in results:
        if not result.ok and not result.skipped:
            return result.exit_code
    return ExitCode.OK


def run_checks(
    load_config: Callable[[], Config],
    *,
    transport: httpx.BaseTransport | None = None,
    sleep: Callable[[float], None] = time.sleep,
    engine_factory: Callable[[str], Engine] = create_engine_for,
) -> list[CheckResult]:
    """Run every check; `transport` and `engine_factory` replace the network and the database."""
    results: list[CheckResult] = []
    try:
        config = load_config()
    except ConfigError as exc:
        results.append(_failed(CONFIGURATION, exc))
        results.extend(_skipped(name, "needs a valid configuration") for name in CHECK_NAMES[1:])
        return results
    results.append(CheckResult(CONFIGURATION, True, _describe_config(config)))
    results.extend(_qualys_checks(config, transport=transport, sleep=sleep))
    results.append(_database_check(config, engine_factory))
    return results


def _qualys_checks(
    config: Config, *, transport: httpx.BaseTransport | None, sleep: Callable[[float], None]
) -> list[CheckResult]:
    settings = _probe_settings(config.qualys)
    results: list[CheckResult] = []
    try:
        results.append(CheckResult(API_SERVER, True, probe_server(settings, transport=transport)))
    except ConnectorError as exc:
        results.append(_failed(API_SERVER, exc))
        why = "needs a reachable API server"
        return [*results, *(_skipped(n, why) for n in (CREDENTIALS, SEARCH, KNOWLEDGE_BASE))]

    with QualysClient(settings, transport=transport, sleep=sleep) as client:
        try:
            results.append(CheckResult(CREDENTIALS, True, _credentials(client)))
        except ConnectorError as exc:
            results.append(_failed(CREDENTIALS, exc))
            why = "needs accepted credentials"
            return [*results, *(_skipped(n, why) for n in (SEARCH, KNOWLEDGE_BASE))]
        results.append(_run(SEARCH, lambda: _search(client)))
        if config.sync.pull_knowledge_base:
            results.append(_run(KNOWLEDGE_BASE, lambda: _knowledge_base(client)))
        else:
            results.append(_skipped(KNOWLEDGE_BASE, "sync.pull_knowledge_base is false"))
    return results


def _probe_settings(settings: QualysSettings) -> QualysSettings:
    return replace(
        settings,
        retry_max_attempts=min(settings.retry_max_attempts, PROBE_MAX_ATTEMPTS),
        retry_max_wait_seconds=min(settings.retry_max_wait_seconds, PROBE_MAX_WAIT_SECONDS),
    )


def _credentials(client: QualysClient) -> str:
    data = client.portal_version()
    portal = data.get("Portal-Version")
    was = portal.get("WAS-VERSION") if isinstance(portal, dict) else None
    version = f", WAS {was}" if was else ""
    return f"user {client.settings.username} accepted by {client.base_url}{version}"


def _search(client: QualysClient) -> str:
    webapps = next(iter(client.iter_webapp_pages(verbose=False, page_size=1)))
    findings = next(iter(client.iter_finding_pages(verbose=False, page_size=1)))
    seen = "some" if webapps.records else "no"
    return (
        f"web app and finding searches answered ({seen} web apps visible, "
        f"{'some' if findings.records else 'no'} findings visible)"
    )


def _knowledge_base(client: QualysClient) -> str:
    result = client.kb_lookup([KB_PROBE_QID], details="Basic")
    found = "found" if not result.unknown else "not in this KB, but the call was allowed"
    return (
        f"KB readable (QID {KB_PROBE_QID} {found}; "
        f"{client.kb_concurrency_limit} concurrent KB call(s) allowed)"
    )


def _database_check(config: Config, engine_factory: Callable[[str], Engine]) -> CheckResult:
    url = config.database_url
    missing = missing_sqlite_file(url)
    if missing is not None:  # connecting would create the file; this check writes nothing
        return _warning(DATABASE, f"no database yet (the first sync creates it): {missing}")
    try:
        engine = engine_factory(url)
        try:
            check_database(engine)
            status = schema_status(engine)
        finally:
            engine.dispose()
    except ConnectorError as exc:
        return _failed(DATABASE, exc)
    where = redact(url)
    if status.state == "current":
        return CheckResult(DATABASE, True, f"{where} reachable, schema current ({status.head})")
    if status.state == "empty":
        return _warning(DATABASE, f"no database yet (the first sync creates it): {where} is empty")
    if status.state == "behind":
        return _warning(
            DATABASE,
            f"{where} reachable, schema {status.current} is older than {status.head}: the next "
            "sync migrates it (or run `connector db upgrade`)",
        )
    advice = {
        "ahead": f"schema {status.current} is newer than this connector: upgrade the connector",
        "unknown": "connector tables exist without a schema revision: use an empty database",
    }[status.state]
    return CheckResult(
        DATABASE, False, f"{where} reachable, but {advice}", exit_code=ExitCode.FAILED
    )


def _describe_config(config: Config) -> str:
    q = config.qualys
    where = q.platform or "api_url"
    text = (
        f"{config.source}: connector {config.connector_name!r}, {where} {q.api_url}, "
        f"user {q.username}"
    )
    if q.proxy:
        text += ", via proxy"
    if config.warnings:
        text += f" (warnings: {'; '.join(config.warnings)})"
    return text


def _run(name: str, check: Callable[[], str]) -> CheckResult:
    try:
        return CheckResult(name, True, check())
    except ConnectorError as exc:
        return _failed(name, exc)


def _failed(name: str, exc: ConnectorError) -> CheckResult:
    return CheckResult(name, False, str(exc), exit_code=exc.exit_code)


def _warning(name: str, detail: str) -> CheckResult:
    return CheckResult(name, True, detail, warning=True)


def _skipped(name: str, why: str) -> CheckResult:
    return CheckResult(name, False, why, skipped=True)
