"""Full or incremental: which kind of sync to run, and why (pure; the reason is recorded)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from hashlib import blake2b

from connector.config import SyncSettings
from connector.models import SyncMode

FINGERPRINT_STATE = "full_sync_settings"  # connector_state: the settings of the last full sync


@dataclass(frozen=True)
class ModeChoice:
    mode: SyncMode
    reason: str


def settings_fingerprint(settings: SyncSettings) -> str:
    """What a change of would make stored findings differ from a fresh mapping of them."""
    fallback = sorted((level, str(label)) for level, label in settings.severity_fallback.items())
    text = repr((settings.finding_types, fallback))
    return blake2b(text.encode(), digest_size=16).hexdigest()


def choose_mode(
    settings: SyncSettings,
    *,
    force_full: bool,
    last_full: datetime | None,
    fingerprint_then: str | None,
    now: datetime,
) -> ModeChoice:
    every = settings.full_sync_every_days
    if force_full:
        return ModeChoice(SyncMode.FULL, "a full sync was asked for (--full)")
    if every == 0:
        return ModeChoice(SyncMode.FULL, "every sync is full ([sync] full_sync_every_days = 0)")
    if last_full is None:
        return ModeChoice(SyncMode.FULL, "no full sync has succeeded yet")
    if fingerprint_then != settings_fingerprint(settings):
        return ModeChoice(
            SyncMode.FULL,
            "the finding types or the severity fallback changed since the last full sync",
        )
    age = now - last_full
    if age >= timedelta(days=every):
        return ModeChoice(
            SyncMode.FULL,
            f"the last full sync is {_days(age)} old (a full sync every {every} days)",
        )
    return ModeChoice(
        SyncMode.INCREMENTAL,
        f"a full sync succeeded {_days(age)} ago (a full sync every {every} days)",
    )


def _days(age: timedelta) -> str:
    hours = age.total_seconds() / 3600
    return f"{hours:.1f} hours" if hours < 48 else f"{hours / 24:.1f} days"
