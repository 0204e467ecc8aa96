"""The one writer of an import: every write of one import, inside the one transaction it is given.

Nothing here decides anything: assets are merged (importer.assets), findings planned by the
store's merge, closing by the planner. A row that would not change is never written, so importing
the same file twice writes no asset, weakness, finding or event (only the run and the import's
own record).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from sqlalchemy.engine import Connection

from connector.importer.assets import merge_asset
from connector.importer.summary import ImportSummary
from connector.models import Asset, Finding, RunKind, RunOutcome, Weakness
from connector.store import assets as store_assets
from connector.store import findings as store_findings
from connector.store import imports as store_imports
from connector.store import runs as store_runs
from connector.store import weaknesses as store_weaknesses
from connector.store.findings import PreparedRow
from connector.store.rows import digest, row_values


class ImportWriter:
    def __init__(
        self, conn: Connection, connector: str, *, now: datetime, host: str, pid: int, reason: str
    ) -> None:
        self.conn, self.connector, self.now, self.reason = conn, connector, now, reason
        self.run_id = store_runs.start_run(
            conn, connector, RunKind.IMPORT, now=now, host=host, pid=pid
        )
        self._assets_written: set[str] = set()

    def assets(self, assets: Sequence[Asset]) -> int:
        """Write the import assets (never an API one) that are new or changed; returns how many."""
        wanted = {a.key: a for a in assets if a.key not in self._assets_written}
        if not wanted:
            return 0
        stored = store_imports.stored_assets(self.conn, self.connector, list(wanted))
        changed = []
        for key, asset in wanted.items():
            old = stored.get(key)
            if old is not None and old.asset.source == "api":
                continue  # an API web app: findings attach to it, the sync owns the row
            merged = merge_asset(old.asset if old else None, asset)
            if old is None or old.content_hash != digest(row_values(merged)):
                changed.append(merged)
        self._assets_written.update(wanted)
        if changed:
            store_assets.upsert_assets(self.conn, self.connector, changed, now=self.now)
        return len(changed)

    def glossary(self, entries: Sequence[Weakness]) -> int:
        written = store_weaknesses.upsert_glossary(self.conn, self.connector, entries, now=self.now)
        return len(written)

    def findings(
        self, batch: Sequence[Finding], prepared: Mapping[str, PreparedRow] | None = None
    ) -> dict[str, str]:
        """Write a batch (merged into what is stored); returns each key's outcome."""
        plan = store_findings.plan_findings(
            self.conn, self.connector, batch, now=self.now, reason=self.reason, prepared=prepared
        )
        store_findings.apply_findings(self.conn, self.connector, plan, run_id=self.run_id)
        return plan.outcomes

    def close(self, keys: Sequence[str], *, fixed_at: datetime, reason: str) -> None:
        store_findings.close_findings(
            self.conn,
            self.connector,
            keys,
            run_id=self.run_id,
            now=self.now,
            reason=reason,
            fixed_at=fixed_at,
        )

    def record(self, summary: ImportSummary, asset_keys: Sequence[str]) -> int:
        """The import's own record and its run's outcome; returns the imported scan's id."""
        scan_id = store_imports.record_imported_scan(
            self.conn,
            self.connector,
            run_id=self.run_id,
            file_name=summary.file_name,
            checksum=summary.checksum,
            report_date=summary.report_date,
            asset_key=asset_keys[0] if len(asset_keys) == 1 else None,
            mapping=summary.mapping,
            counts=summary.as_json(),
            now=self.now,
            asset_keys=asset_keys,
        )
        store_runs.finish_run(
            self.conn,
            self.run_id,
            outcome=RunOutcome.SUCCEEDED,
            now=self.now,
            counts=summary.counts(),
            api_calls=0,
            retries=0,
            error=None,
        )
        return scan_id
