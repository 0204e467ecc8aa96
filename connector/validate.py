"""Reconciliation: Qualys' own counts against the store (the seed's "Data Validation", automated).

Web apps: the Qualys count against the API assets that are active or archived by retention while
Qualys still lists them. Per web application (not archived): Qualys' count of open findings
(status NEW/ACTIVE/REOPENED, the sync's type filter) against the stored Active findings the API
sync wrote with those Qualys statuses. Findings imported from files and web apps archived by
retention are noted, never mismatches. Every mismatch gets its likely cause.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from sqlalchemy import Engine

from connector.config import Config
from connector.models import INFORMATION_GATHERED, SOURCE_API
from connector.qualys.client import QualysClient
from connector.qualys.requests import Criterion
from connector.store.queries import active_finding_counts, asset_overview

OPEN_STATUSES = ("NEW", "ACTIVE", "REOPENED")


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


def validate(config: Config, engine: Engine, client: QualysClient) -> ValidationReport:
    """Ask Qualys for its counts and compare them with the store; writes nothing anywhere.

    What the store holds on purpose apart from Qualys is noted, not counted as a mismatch: web
    apps archived by retention (Qualys still lists them) and findings imported from files."""
    name = config.connector_name
    types = config.sync.finding_types
    with engine.connect() as conn:
        stored_assets = asset_overview(conn, name)
        stored_open = active_finding_counts(
            conn,
            name,
            types=types,
            qualys_statuses=OPEN_STATUSES,
            active_assets_only=True,
            source=SOURCE_API,
        )
        active_all = sum(active_finding_counts(conn, name).values())
        active_api = sum(active_finding_counts(conn, name, source=SOURCE_API).values())
        stored_info = active_finding_counts(conn, name, types=(INFORMATION_GATHERED,))
    report = ValidationReport()
    report.webapps_qualys = client.count_webapps()
    qualys_ids = _qualys_webapp_ids(client)
    api_assets = {k: a for k, a in stored_assets.items() if a.source == SOURCE_API}
    report.assets_active = sum(1 for a in api_assets.values() if a.state == "active")
    retained = [k for k in qualys_ids if k in api_assets and api_assets[k].state == "archived"]
    stored_webapps = report.assets_active + len(retained)
    if report.webapps_qualys != stored_webapps:
        report.mismatches.append(
            Mismatch(
                "web apps",
                None,
                report.webapps_qualys,
                stored_webapps,
                _webapp_cause(report.webapps_qualys, stored_webapps),
            )
        )
    for webapp_id in qualys_ids:
        stored_asset = stored_assets.get(webapp_id)
        if stored_asset is not None and stored_asset.state == "archived":
            continue  # archived by retention: its findings are left out on purpose
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
        report.mismatches.append(
            Mismatch(
                f"web app {webapp_id}",
                stored_asset.name if stored_asset is not None else None,
                qualys_open,
                stored,
                _finding_cause(qualys_open, stored, stored_asset is not None),
            )
        )
    if retained:
        report.notes.append(
            f"{len(retained)} web app(s) archived by retention are still listed in Qualys; they "
            "and their findings are not compared (see "
            "`connector export assets --include-archived`)"
        )
    if active_all - active_api:
        report.notes.append(
            f"{active_all - active_api} Active finding(s) imported from scan files are not "
            "compared (Qualys' API does not count them; see `connector scans list`)"
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


def _webapp_cause(qualys: int, stored: int) -> str:
    if stored < qualys:
        return "not yet synced: web apps created since the last sync"
    return "deleted in Qualys since the last sync"


def _finding_cause(qualys: int, stored: int, in_store: bool) -> str:
    if not in_store:
        return "not yet synced: the web app is not in the store"
    if stored > qualys:
        return "fixed since the last sync (Qualys no longer counts them open)"
    return "new findings since the last sync, not yet synced"
