"""The assets table: web applications written as they are listed, retention, and counts.

Functions run inside the caller's transaction and never commit. Rows whose content did not change
are not rewritten; only their `last_seen_at` moves.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from connector.models import SOURCE_API, Asset, AssetState
from connector.store.failures import reading, writing
from connector.store.rows import (
    UpsertResult,
    check_connector,
    check_lengths,
    digest,
    length_limits,
    row_values,
    stored_columns,
)
from connector.store.schema import assets
from connector.store.upsert import analyze_if_stale, chunks, upsert

_ASSET_LIMITS = length_limits(assets)

_ASSET_UPDATE = (
    *("name", "url", "first_observed", "tags", "attributes"),
    *("source", "content_hash", "last_seen_at"),
)


def _keep_latest_observed(excluded: Any) -> dict[str, sa.ColumnElement[Any]]:
    """last_observed only moves forward (an import may have raised it past the API's value)."""
    stored = assets.c.last_observed
    newer = sa.or_(stored.is_(None), excluded.last_observed > stored)
    return {"last_observed": sa.case((newer, excluded.last_observed), else_=stored)}


def upsert_assets(
    conn: Connection, connector: str, assets_: Sequence[Asset], *, now: datetime
) -> UpsertResult:
    """Insert new assets, rewrite changed ones, and bump last_seen_at on all of them.

    State and archived_at are left to apply_retention; first_seen_at is set on creation only.
    """
    result = UpsertResult()
    batch = {a.key: a for a in assets_}  # a key given twice: the later record wins
    if not batch:
        return result
    check_connector(connector)
    keys = list(batch)
    with reading(f"reading {len(keys)} stored assets"):
        stored = stored_columns(conn, assets, connector, keys, "content_hash")
    rows: list[dict[str, Any]] = []
    untouched: list[str] = []
    for key, asset in batch.items():
        values = row_values(asset)
        row_digest = digest(values)
        check_lengths(f"asset {key}", values, _ASSET_LIMITS)
        old = stored.get(key)
        if old is not None and old.content_hash == row_digest:
            untouched.append(key)
            continue
        (result.updated if old is not None else result.created).append(key)
        values.update(
            connector=connector,
            content_hash=row_digest,
            state=AssetState.ACTIVE.value,
            archived_at=None,
            first_seen_at=now,
            last_seen_at=now,
        )
        rows.append(values)
    result.unchanged = len(untouched)
    with writing(f"writing {len(rows)} assets (first: asset {rows[0]['key'] if rows else '-'})"):
        upsert(
            conn,
            assets,
            rows,
            conflict=("connector", "key"),
            update=_ASSET_UPDATE,
            set_extra=_keep_latest_observed,
            describe=lambda row: f"asset {row['key']}",
        )
        for chunk in chunks(untouched):
            conn.execute(
                sa.update(assets)
                .where(assets.c.connector == connector, assets.c.key.in_(chunk))
                .values(last_seen_at=now)
            )
        analyze_if_stale(conn, assets, len(result.created))
    return result


def insert_missing(
    conn: Connection, connector: str, assets_: Sequence[Asset], *, now: datetime
) -> None:
    """Insert the assets not stored yet; stored ones are left exactly as they are (a finding's
    minimal web app must never overwrite what the web-app listing wrote, whichever comes first)."""
    rows = []
    for asset in {a.key: a for a in assets_}.values():
        values = row_values(asset)
        check_lengths(f"asset {asset.key}", values, _ASSET_LIMITS)
        values.update(
            connector=connector,
            content_hash=digest(values),
            state=AssetState.ACTIVE.value,
            archived_at=None,
            first_seen_at=now,
            last_seen_at=now,
        )
        rows.append(values)
    if not rows:
        return
    check_connector(connector)
    with writing(f"writing {len(rows)} assets (first: asset {rows[0]['key']})"):
        upsert(
            conn,
            assets,
            rows,
            conflict=("connector", "key"),
            update=(),
            describe=lambda row: f"asset {row['key']}",
        )


def raise_last_observed(conn: Connection, connector: str, latest: Mapping[str, datetime]) -> None:
    """Per asset key, set last_observed to the later of the stored and the given time."""
    if not latest:
        return
    stmt = (
        sa.update(assets)
        .where(
            assets.c.connector == sa.bindparam("b_connector"),
            assets.c.key == sa.bindparam("b_key"),
            sa.or_(
                assets.c.last_observed.is_(None),
                assets.c.last_observed < sa.bindparam("b_at", type_=assets.c.last_observed.type),
            ),
        )
        .values(last_observed=sa.bindparam("b_at", type_=assets.c.last_observed.type))
    )
    params = [{"b_connector": connector, "b_key": k, "b_at": at} for k, at in latest.items()]
    with writing(f"raising last_observed of {len(params)} assets"):
        for batch in chunks(params, 1000):
            conn.execute(stmt, list(batch))


def _observed_expr() -> sa.ColumnElement[Any]:
    return sa.func.coalesce(
        assets.c.last_observed, assets.c.last_seen_at, type_=assets.c.last_observed.type
    )


def apply_retention(
    conn: Connection, connector: str, *, cutoff: datetime, now: datetime
) -> tuple[list[str], list[str]]:
    """Archive active assets last observed before `cutoff` (or, never observed, last seen before
    it); reactivate archived ones observed since. Returns (archived keys, reactivated keys)."""
    observed = _observed_expr()
    with reading("selecting assets for retention"):
        to_archive: list[str] = list(
            conn.execute(
                sa.select(assets.c.key).where(
                    assets.c.connector == connector,
                    assets.c.state == AssetState.ACTIVE.value,
                    observed < cutoff,
                )
            ).scalars()
        )
        to_reactivate: list[str] = list(
            conn.execute(
                sa.select(assets.c.key).where(
                    assets.c.connector == connector,
                    assets.c.state == AssetState.ARCHIVED.value,
                    observed >= cutoff,
                )
            ).scalars()
        )
    with writing("applying asset retention"):
        for keys, state, archived_at in (
            (to_archive, AssetState.ARCHIVED.value, now),
            (to_reactivate, AssetState.ACTIVE.value, None),
        ):
            for chunk in chunks(keys):
                conn.execute(
                    sa.update(assets)
                    .where(assets.c.connector == connector, assets.c.key.in_(chunk))
                    .values(state=state, archived_at=archived_at)
                )
    return to_archive, to_reactivate


def count_assets(conn: Connection, connector: str) -> dict[str, int]:
    """state -> number of assets."""
    query = (
        sa.select(assets.c.state, sa.func.count())
        .where(assets.c.connector == connector)
        .group_by(assets.c.state)
    )
    with reading("counting assets"):
        return dict(conn.execute(query).all())


def count_imported(conn: Connection, connector: str, keys: Sequence[str]) -> int:
    """How many of these assets a file import created (not the API sync)."""
    total = 0
    with reading("reading asset sources"):
        for chunk in chunks(keys):
            query = sa.select(sa.func.count()).where(
                assets.c.connector == connector,
                assets.c.key.in_(chunk),
                assets.c.source != SOURCE_API,
            )
            total += int(conn.execute(query).scalar_one())
    return total
