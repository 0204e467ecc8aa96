"""Reconciliation: Qualys' own counts against the store (the seed's "Data Validation", automated).

Web apps: the Qualys count against active assets. Per web application: Qualys' count of open
findings (status NEW/ACTIVE/REOPENED, the sync's type filter) against the stored Active findings
with those Qualys statuses on active assets (findings of archived assets are left out of counts,
so a web app archived by retention shows up). Every mismatch gets its likely cause.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from sqlalchemy import Engine

from connector.config import Config
from connector.mapping import INFORMATION_GATHERED
from connector.qualys.client import QualysClient
from connector.qualys.requests import Criterion
from connector.store.queries import active_finding_counts, asset_overview

OPEN_STATUSES = ("NEW", "ACTIVE", "REOPENED")
SYNCED_TYPES = ("VULNERABILITY", "SENSITIVE_CONTENT")


@dataclass(frozen=True)
class Mismatch:
    scope: str  # "web apps" or "web app <id>"
    name: str | None
    qualys: int
    stored: int
    cause: str


@dataclass
class ValidationReport:
    webapps_qualys: int = 0
    assets_active: int = 0
    webapps_checked: int = 0
    mismatches: list[Mismatch] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.mismatches

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["ok"] = self.ok
        return data


def synced_types(config: Config) -> tuple[str, ...]:
    if config.sync.pull_informational:
        return (*SYNCED_TYPES, INFORMATION_GATHERED)
    return SYNCED_TYPES


def validate(config: Config, engine: Engine, client: QualysClient) -> ValidationReport:
    """Ask Qualys for its counts and compare them with the store; writes nothing anywhere."""
    name = config.connector_name
    types = synced_types(config)
    with engine.connect() as conn:
        stored_assets = asset_overview(conn, name)
        stored_open = active_finding_counts(
            conn, name, types=types, qualys_statuses=OPEN_STATUSES, active_assets_only=True
        )
        stored_info = active_finding_counts(conn, name, types=(INFORMATION_GATHERED,))
    report = ValidationReport()
    report.webapps_qualys = client.count_webapps()
    api_assets = {k: v for k, v in stored_assets.items() if k.isdigit()}  # not import-made ones
    report.assets_active = sum(1 for _, state in api_assets.values() if state == "active")
    if report.webapps_qualys != report.assets_active:
        archived = sum(1 for _, state in api_assets.values() if state == "archived")
        report.mismatches.append(
            Mismatch(
                "web apps",
                None,
                report.webapps_qualys,
                report.assets_active,
                _webapp_cause(report.webapps_qualys, report.assets_active, archived),
            )
        )
    for webapp_id in _qualys_webapp_ids(client):
        report.webapps_checked += 1
        qualys_open = client.count_findings(
            [
                Criterion("webApp.id", "EQUALS", webapp_id),
                Criterion("type", "IN", ",".join(types)),
                Criterion("status", "IN", ",".join(OPEN_STATUSES)),
            ]
        )
        stored = stored_open.get(webapp_id, 0)
        if qualys_open == stored:
            continue
        asset_name, state = stored_assets.get(webapp_id, (None, "missing"))
        report.mismatches.append(
            Mismatch(
                f"web app {webapp_id}",
                asset_name,
                qualys_open,
                stored,
                _finding_cause(qualys_open, stored, state),
            )
        )
    leftover_info = sum(stored_info.values())
    if leftover_info and not config.sync.pull_informational:
        report.notes.append(
            f"{leftover_info} Active information-gathered finding(s) are stored from when "
            "pull_informational was on; they are not compared (informational toggle)"
        )
    return report


def _qualys_webapp_ids(client: QualysClient) -> Sequence[str]:
    ids: list[str] = []
    for page in client.iter_webapp_pages(verbose=False):
        ids.extend(str(record.get("id")) for record in page.records if record.get("id"))
    return ids


def _webapp_cause(qualys: int, stored: int, archived: int) -> str:
    if stored < qualys and archived:
        return f"archived by retention ({archived} archived asset(s)) or not yet synced"
    if stored < qualys:
        return "not yet synced: web apps created since the last sync"
    return "deleted in Qualys since the last sync, or assets created by imports"


def _finding_cause(qualys: int, stored: int, state: str) -> str:
    if state == "missing":
        return "not yet synced: the web app is not in the store"
    if state == "archived":
        return "archived by retention: its findings are left out"
    if stored > qualys:
        return "fixed since the last sync (Qualys no longer counts them open)"
    return "new findings since the last sync, not yet synced"
