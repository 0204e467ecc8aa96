"""Reading and writing the connector's records: plain functions over a caller-owned Connection.

Every function runs inside the caller's transaction (`with engine.begin() as conn:`) and never
commits. SQLAlchemy errors leave as StoreError (reads) or StoreWriteError (writes, naming the
record). Rows whose content did not change are not rewritten: each stored asset and finding
carries a hash of the fields it was written from, and only new or changed records reach the upsert.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from hashlib import blake2b
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from connector.errors import StoreError, StoreWriteError
from connector.models import (
    Asset,
    AssetState,
    Finding,
    FindingStatus,
    RunKind,
    RunOutcome,
    Severity,
    SeveritySource,
    Weakness,
)
from connector.store.failures import reading, writing
from connector.store.schema import (
    FINDING_ASSET,
    assets,
    connector_state,
    finding_events,
    findings,
    sync_runs,
    weaknesses,
)
from connector.store.upsert import analyze_if_stale, chunks, insert_many, upsert

_HASH_VERSION = b"1"  # bump when the hashed fields change: every row is then rewritten once
_ACTIVE = FindingStatus.ACTIVE.value
_FIXED = FindingStatus.FIXED.value


@dataclass
class UpsertResult:
    """What one upsert call did. `status_changes` mirrors the finding_events rows it wrote
    (key, from, to): `from` is None for a created finding. Always empty for assets."""

    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: int = 0
    status_changes: list[tuple[str, str | None, str]] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class RunRecord:
    """One sync_runs row."""

    id: int
    connector: str
    kind: RunKind
    started_at: datetime
    finished_at: datetime | None
    outcome: RunOutcome
    counts: dict[str, Any]
    api_calls: int
    retries: int
    error: str | None
    host: str | None
    pid: int | None


# --- errors -------------------------------------------------------------------------------------


def _length_limits(table: sa.Table, *, skip: Collection[str] = ()) -> list[tuple[str, int]]:
    limits = []
    for column in table.columns:
        length = getattr(column.type, "length", None)
        if isinstance(column.type, sa.String) and length and column.name not in skip:
            limits.append((column.name, int(length)))
    return limits


_ASSET_LIMITS = _length_limits(assets, skip=("connector",))
_FINDING_LIMITS = _length_limits(findings, skip=("connector",))
_WEAKNESS_LIMITS = _length_limits(weaknesses, skip=("connector",))
_CONNECTOR_LENGTH = int(assets.c.connector.type.length or 0)  # type: ignore[attr-defined]


def _check_connector(connector: str) -> None:
    if len(connector) > _CONNECTOR_LENGTH:
        raise StoreWriteError(
            f"connector name {connector[:40]!r}...: longer than {_CONNECTOR_LENGTH} characters"
        )


def _check_lengths(label: str, row: Mapping[str, Any], limits: list[tuple[str, int]]) -> None:
    """PostgreSQL enforces VARCHAR lengths and SQLite does not: check here, the same everywhere."""
    for name, limit in limits:
        value = row.get(name)
        if value is not None and len(value) > limit:
            raise StoreWriteError(
                f"{label}: value too long for {name} ({len(value)} > {limit} characters)"
            )


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.astimezone(UTC).isoformat()


def _digest(values: tuple[Any, ...]) -> str:
    return blake2b(_HASH_VERSION + repr(values).encode(), digest_size=32).hexdigest()


def _existing(
    conn: Connection, table: sa.Table, connector: str, keys: Sequence[str], *columns: str
) -> dict[str, sa.Row[Any]]:
    """key -> the requested columns, for the given keys that are stored."""
    cols = [table.c.key, *(table.c[name] for name in columns)]
    found: dict[str, sa.Row[Any]] = {}
    for chunk in chunks(keys):
        query = sa.select(*cols).where(table.c.connector == connector, table.c.key.in_(chunk))
        for row in conn.execute(query):
            found[row.key] = row
    return found


# --- assets -------------------------------------------------------------------------------------


def _asset_values(asset: Asset) -> tuple[dict[str, Any], str]:
    tags = list(asset.tags)
    attributes = dict(sorted(asset.attributes.items()))
    values = {
        "key": asset.key,
        "name": asset.name,
        "url": asset.url,
        "first_observed": asset.first_observed,
        "last_observed": asset.last_observed,
        "tags": tags,
        "attributes": attributes,
        "source": asset.source,
    }
    digest = _digest(
        (
            asset.key,
            asset.name,
            asset.url,
            _iso(asset.first_observed),
            _iso(asset.last_observed),
            tags,
            attributes,
            asset.source,
        )
    )
    return values, digest


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
    _check_connector(connector)
    keys = list(batch)
    with reading(f"reading {len(keys)} stored assets"):
        stored = _existing(conn, assets, connector, keys, "content_hash")
    rows: list[dict[str, Any]] = []
    untouched: list[str] = []
    for key, asset in batch.items():
        values, digest = _asset_values(asset)
        _check_lengths(f"asset {key}", values, _ASSET_LIMITS)
        old = stored.get(key)
        if old is not None and old.content_hash == digest:
            untouched.append(key)
            continue
        (result.updated if old is not None else result.created).append(key)
        values.update(
            connector=connector,
            content_hash=digest,
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


# --- findings -----------------------------------------------------------------------------------


def _finding_values(f: Finding) -> tuple[dict[str, Any], str]:
    # tuples serialise as JSON arrays (and, hashable, let the JSON conversion be cached)
    cwes, owasp, wasc, ports = tuple(f.cwes), tuple(f.owasp), tuple(f.wasc), tuple(f.ports)
    status, severity, source = str(f.status), str(f.severity), str(f.severity_source)
    values = {
        "key": f.key,
        "asset_key": f.asset_key,
        "unique_id": f.unique_id,
        "qid": f.qid,
        "name": f.name,
        "type": f.type,
        "url": f.url,
        "param": f.param,
        "severity": severity,
        "severity_source": source,
        "qualys_severity": f.qualys_severity,
        "cvss_v3_base": f.cvss_v3_base,
        "cvss_v3_temporal": f.cvss_v3_temporal,
        "attack_vector": f.attack_vector,
        "cwes": cwes,
        "owasp": owasp,
        "wasc": wasc,
        "status": status,
        "qualys_status": f.qualys_status,
        "ignored_reason": f.ignored_reason,
        "first_seen": f.first_seen,
        "last_seen": f.last_seen,
        "ports": ports,
        "evidence": f.evidence,
        "source": f.source,
    }
    digest = _digest(
        (
            f.key,
            f.asset_key,
            f.unique_id,
            f.qid,
            f.name,
            f.type,
            f.url,
            f.param,
            severity,
            source,
            f.qualys_severity,
            f.cvss_v3_base,
            f.cvss_v3_temporal,
            f.attack_vector,
            cwes,
            owasp,
            wasc,
            status,
            f.qualys_status,
            f.ignored_reason,
            _iso(f.first_seen),
            _iso(f.last_seen),
            _iso(f.fixed_at),
            ports,
            f.evidence,
            f.source,
        )
    )
    return values, digest


_FINDING_UPDATE = tuple(
    c.name for c in findings.columns if c.name not in ("connector", "key", "created_at")
)


def _label(f: Finding) -> str:
    return f"finding {f.key} of asset {f.asset_key}"


def _describe_finding_row(row: Mapping[str, Any]) -> str:
    return f"finding {row['key']} of asset {row['asset_key']}"


def _describe_event_row(row: Mapping[str, Any]) -> str:
    return f"event of finding {row['finding_key']}"


def _check_assets_exist(conn: Connection, connector: str, batch: Mapping[str, Finding]) -> None:
    wanted = sorted({f.asset_key for f in batch.values()})
    with reading(f"reading {len(wanted)} assets of a findings batch"):
        present = _existing(conn, assets, connector, wanted)
    missing = set(wanted) - set(present)
    if missing:
        first = next(f for f in batch.values() if f.asset_key in missing)
        raise StoreWriteError(
            f"{_label(first)}: asset {first.asset_key} is not in the store "
            f"({len(missing)} asset(s) of this batch are missing; write assets before findings)"
        )


def _check_run_exists(conn: Connection, run_id: int) -> None:
    with reading(f"reading run {run_id}"):
        found = conn.execute(sa.select(sync_runs.c.id).where(sync_runs.c.id == run_id)).first()
    if found is None:
        raise StoreWriteError(f"run {run_id} does not exist: start_run() before writing findings")


def upsert_findings(
    conn: Connection,
    connector: str,
    findings_: Sequence[Finding],
    *,
    run_id: int,
    now: datetime,
    reason: str,
) -> UpsertResult:
    """Write new and changed findings in one set-based upsert; unchanged ones are not written.

    Creations and status changes each get a finding_events row with `reason`. A finding that
    becomes Fixed gets fixed_at (its own, else `now`) and fixed_reason; one that becomes Active
    again has both cleared.
    """
    result = UpsertResult()
    batch = {f.key: f for f in findings_}  # a key given twice: the later record wins
    if not batch:
        return result
    _check_connector(connector)
    keys = list(batch)
    with reading(f"reading {len(keys)} stored findings"):
        stored = _existing(
            conn, findings, connector, keys, "content_hash", "status", "fixed_at", "fixed_reason"
        )
    rows: list[dict[str, Any]] = []
    events: list[dict[str, Any]] = []
    for key, finding in batch.items():
        values, digest = _finding_values(finding)
        old = stored.get(key)
        status = values["status"]
        if old is not None and old.content_hash == digest and old.status == status:
            result.unchanged += 1
            continue
        _check_lengths(_label(finding), values, _FINDING_LIMITS)
        old_status = None if old is None else old.status
        if status == _FIXED:
            if old is not None and old_status == _FIXED:  # still fixed: keep when and why
                values["fixed_at"] = finding.fixed_at or old.fixed_at
                values["fixed_reason"] = old.fixed_reason
            else:
                values["fixed_at"] = finding.fixed_at or now
                values["fixed_reason"] = reason
        else:
            values["fixed_at"] = None
            values["fixed_reason"] = None
        values.update(connector=connector, content_hash=digest, created_at=now, updated_at=now)
        rows.append(values)
        (result.updated if old is not None else result.created).append(key)
        if old_status != status:
            result.status_changes.append((key, old_status, status))
            events.append(
                {
                    "connector": connector,
                    "finding_key": key,
                    "from_status": old_status,
                    "to_status": status,
                    "at": now,
                    "run_id": run_id,
                    "reason": reason,
                }
            )
    if not rows:
        return result
    _check_assets_exist(conn, connector, {r["key"]: batch[r["key"]] for r in rows})
    if events:
        _check_run_exists(conn, run_id)
    with writing(f"writing {len(rows)} findings (first: {_label(batch[rows[0]['key']])})"):
        upsert(
            conn,
            findings,
            rows,
            conflict=("connector", "key"),
            update=_FINDING_UPDATE,
            describe=_describe_finding_row,
        )
        insert_many(conn, finding_events, events, describe=_describe_event_row)
        analyze_if_stale(conn, findings, len(result.created))
    return result


def mark_absent_fixed(
    conn: Connection,
    connector: str,
    seen_keys: Collection[str],
    *,
    run_id: int,
    now: datetime,
    reason: str,
    source: str | None = "api",
    asset_keys: Collection[str] | None = None,
    types: Collection[str] | None = None,
) -> list[str]:
    """Every Active finding (of `source`, of `asset_keys` and `types` when given) not in
    `seen_keys` becomes Fixed with an event; their content hash is cleared so a reappearance is
    rewritten. `types` keeps findings of types that were not fetched out of it.
    Returns the keys fixed. Active keys are streamed and diffed in Python, updates are batched."""
    # Sets and set-like collections (the sync's compact key set) are used as they are.
    seen = set(seen_keys) if isinstance(seen_keys, list | tuple) else seen_keys
    base = sa.select(findings.c.key).where(
        findings.c.connector == connector, findings.c.status == _ACTIVE
    )
    if source is not None:
        base = base.where(findings.c.source == source)
    if types is not None:
        base = base.where(findings.c.type.in_(list(types)))
    if asset_keys is None:
        queries = [base]
    else:
        queries = [base.where(findings.c.asset_key.in_(c)) for c in chunks(sorted(asset_keys))]
    absent: list[str] = []
    with reading("reading active findings"):
        for query in queries:
            active: Iterable[str] = conn.execute(
                query, execution_options={"yield_per": 10_000}
            ).scalars()
            absent.extend(key for key in active if key not in seen)
    if not absent:
        return absent
    _check_run_exists(conn, run_id)
    with writing(f"marking {len(absent)} absent findings fixed (first: finding {absent[0]})"):
        for chunk in chunks(absent):
            conn.execute(
                sa.update(findings)
                .where(findings.c.connector == connector, findings.c.key.in_(chunk))
                .values(
                    status=_FIXED,
                    fixed_at=now,
                    fixed_reason=reason,
                    content_hash=None,
                    updated_at=now,
                )
            )
        events = [
            {
                "connector": connector,
                "finding_key": key,
                "from_status": _ACTIVE,
                "to_status": _FIXED,
                "at": now,
                "run_id": run_id,
                "reason": reason,
            }
            for key in absent
        ]
        insert_many(conn, finding_events, events, describe=_describe_event_row)
    return absent


def load_findings(
    conn: Connection,
    connector: str,
    *,
    qids: Collection[int],
    severity_source: str,
    after_key: str | None = None,
    limit: int | None = None,
) -> list[Finding]:
    """The stored findings of these QIDs whose severity came from `severity_source`, by key.

    With `limit`, one page of at most that many findings with keys after `after_key` (keyset
    paging, so a caller can walk a large set in bounded memory); then at most 900 QIDs."""
    wanted = sorted(qids)
    if limit is not None and len(wanted) > 900:
        raise ValueError("load_findings pages at most 900 QIDs at a time")
    out: list[Finding] = []
    with reading("loading findings"):
        for chunk in chunks(wanted):
            query = (
                sa.select(findings)
                .where(
                    findings.c.connector == connector,
                    findings.c.severity_source == severity_source,
                    findings.c.qid.in_(chunk),
                )
                .order_by(findings.c.key)
            )
            if after_key is not None:
                query = query.where(findings.c.key > after_key)
            if limit is not None:
                query = query.limit(limit)
            out.extend(_finding_from_row(row) for row in conn.execute(query).mappings())
    return out


def keys_from_source(
    conn: Connection, connector: str, keys: Collection[str], *, source: str
) -> set[str]:
    """Which of these finding keys are stored with this source."""
    found: set[str] = set()
    with reading("reading finding sources"):
        for chunk in chunks(sorted(keys)):
            query = sa.select(findings.c.key).where(
                findings.c.connector == connector,
                findings.c.source == source,
                findings.c.key.in_(chunk),
            )
            found.update(conn.execute(query).scalars())
    return found


def _finding_from_row(row: sa.RowMapping) -> Finding:
    return Finding(
        key=row["key"],
        asset_key=row["asset_key"],
        name=row["name"],
        status=FindingStatus(row["status"]),
        severity=Severity(row["severity"]),
        severity_source=SeveritySource(row["severity_source"]),
        unique_id=row["unique_id"],
        qid=row["qid"],
        type=row["type"],
        url=row["url"],
        param=row["param"],
        qualys_severity=row["qualys_severity"],
        cvss_v3_base=row["cvss_v3_base"],
        cvss_v3_temporal=row["cvss_v3_temporal"],
        attack_vector=row["attack_vector"],
        cwes=tuple(row["cwes"]),
        owasp=tuple(row["owasp"]),
        wasc=tuple(row["wasc"]),
        qualys_status=row["qualys_status"],
        ignored_reason=row["ignored_reason"],
        first_seen=row["first_seen"],
        last_seen=row["last_seen"],
        fixed_at=row["fixed_at"],
        ports=tuple(row["ports"]),
        evidence=row["evidence"],
        source=row["source"],
    )


def count_findings(
    conn: Connection, connector: str, *, include_archived: bool = False
) -> dict[tuple[str, str], int]:
    """(status, severity) -> number of findings; findings of archived assets left out by default."""
    query = sa.select(findings.c.status, findings.c.severity, sa.func.count()).where(
        findings.c.connector == connector
    )
    if not include_archived:
        query = query.join(
            assets,
            FINDING_ASSET,
        ).where(assets.c.state == AssetState.ACTIVE.value)
    query = query.group_by(findings.c.status, findings.c.severity)
    with reading("counting findings"):
        return {(row[0], row[1]): row[2] for row in conn.execute(query)}


# --- weaknesses (the Knowledge Base) ------------------------------------------------------------


def load_weakness_cvss(conn: Connection, connector: str) -> dict[int, float | None]:
    """qid -> the KB's CVSS v3 base score, for every stored weakness (known or not)."""
    query = sa.select(weaknesses.c.qid, weaknesses.c.cvss_v3_base).where(
        weaknesses.c.connector == connector
    )
    with reading("loading weakness scores"):
        return dict(conn.execute(query).all())


def upsert_weaknesses(
    conn: Connection,
    connector: str,
    weaknesses_: Sequence[Weakness],
    unknown_qids: Collection[int],
    *,
    now: datetime,
) -> int:
    """Write KB entries in full; record `unknown_qids` the KB did not return as known=False rows.

    An unknown QID never overwrites a stored known entry (a KB miss is not a reason to forget it).
    Returns the number of rows written.
    """
    _check_connector(connector)
    rows: list[dict[str, Any]] = []
    for w in {w.qid: w for w in weaknesses_}.values():
        row = {
            "connector": connector,
            "qid": w.qid,
            "known": True,
            "title": w.title,
            "category": w.category,
            "severity_level": w.severity_level,
            "description": w.description,
            "impact": w.impact,
            "solution": w.solution,
            "published_date": w.published_date,
            "cves": list(w.cves),
            "cvss_v3_base": w.cvss_v3_base,
            "cvss_v3_temporal": w.cvss_v3_temporal,
            "cvss_v3_vector": w.cvss_v3_vector,
            "last_modified": w.last_modified,
            "fetched_at": now,
        }
        _check_lengths(f"weakness QID {w.qid}", row, _WEAKNESS_LIMITS)
        rows.append(row)
    known = {row["qid"] for row in rows}
    unknown = sorted(set(unknown_qids) - known)
    if unknown:
        with reading("reading stored weaknesses"):
            stored: set[int] = set()
            for chunk in chunks(unknown):
                query = sa.select(weaknesses.c.qid).where(
                    weaknesses.c.connector == connector, weaknesses.c.qid.in_(chunk)
                )
                stored.update(conn.execute(query).scalars())
        unknown = [qid for qid in unknown if qid not in stored]
    blanks = [
        {"connector": connector, "qid": qid, "known": False, "cves": [], "fetched_at": now}
        for qid in unknown
    ]
    first = rows[0]["qid"] if rows else (unknown[0] if unknown else "-")
    with writing(f"writing {len(rows) + len(blanks)} weaknesses (first: QID {first})"):
        update = [c.name for c in weaknesses.columns if c.name not in ("connector", "qid")]
        upsert(
            conn,
            weaknesses,
            rows,
            conflict=("connector", "qid"),
            update=update,
            describe=lambda row: f"weakness QID {row['qid']}",
        )
        upsert(conn, weaknesses, blanks, conflict=("connector", "qid"), update=())
    return len(rows) + len(blanks)


# --- connector state ----------------------------------------------------------------------------


def get_state(conn: Connection, connector: str, name: str) -> str | None:
    """A stored connector state value (e.g. "kb_refreshed_at"), or None."""
    query = sa.select(connector_state.c.value).where(
        connector_state.c.connector == connector, connector_state.c.name == name
    )
    with reading(f"reading state {name}"):
        return conn.execute(query).scalar_one_or_none()


def set_state(conn: Connection, connector: str, name: str, value: str, *, now: datetime) -> None:
    """Store a connector state value, replacing any previous one."""
    row = {"connector": connector, "name": name, "value": value, "updated_at": now}
    _check_connector(connector)
    _check_lengths(f"state {name}", row, _length_limits(connector_state, skip=("connector",)))
    with writing(f"writing state {name}"):
        upsert(
            conn,
            connector_state,
            [row],
            conflict=("connector", "name"),
            update=("value", "updated_at"),
        )


# --- runs ---------------------------------------------------------------------------------------


def start_run(
    conn: Connection, connector: str, kind: RunKind, *, now: datetime, host: str, pid: int
) -> int:
    """Record a run as running; returns its id (for findings events and finish_run)."""
    _check_connector(connector)
    stmt = sa.insert(sync_runs).values(
        connector=connector,
        kind=str(kind),
        started_at=now,
        outcome=RunOutcome.RUNNING.value,
        counts={},
        api_calls=0,
        retries=0,
        host=host[:255],
        pid=pid,
    )
    with writing(f"starting a {kind} run"):
        return int(conn.execute(stmt.returning(sync_runs.c.id)).scalar_one())


def finish_run(
    conn: Connection,
    run_id: int,
    *,
    outcome: RunOutcome,
    now: datetime,
    counts: Mapping[str, Any],
    api_calls: int,
    retries: int,
    error: str | None,
) -> None:
    """Record how a run ended."""
    stmt = (
        sa.update(sync_runs)
        .where(sync_runs.c.id == run_id)
        .values(
            outcome=str(outcome),
            finished_at=now,
            counts=dict(counts),
            api_calls=api_calls,
            retries=retries,
            error=error,
        )
    )
    with writing(f"finishing run {run_id}"):
        if conn.execute(stmt).rowcount != 1:
            raise StoreWriteError(f"finishing run {run_id}: no such run")


def abandon_stale_runs(conn: Connection, connector: str, *, now: datetime) -> int:
    """Runs still "running" become "abandoned" (their process died). Call holding the sync lock."""
    stmt = (
        sa.update(sync_runs)
        .where(
            sync_runs.c.connector == connector,
            sync_runs.c.outcome == RunOutcome.RUNNING.value,
        )
        .values(
            outcome=RunOutcome.ABANDONED.value,
            finished_at=now,
            error=sa.func.coalesce(sync_runs.c.error, "the process ended before the run finished"),
        )
    )
    with writing("abandoning stale runs"):
        return int(conn.execute(stmt).rowcount)


def _run_from_row(row: sa.RowMapping) -> RunRecord:
    return RunRecord(
        id=row["id"],
        connector=row["connector"],
        kind=RunKind(row["kind"]),
        started_at=row["started_at"],
        finished_at=row["finished_at"],
        outcome=RunOutcome(row["outcome"]),
        counts=dict(row["counts"]),
        api_calls=row["api_calls"],
        retries=row["retries"],
        error=row["error"],
        host=row["host"],
        pid=row["pid"],
    )


def last_run(conn: Connection, connector: str, kind: RunKind | None = None) -> RunRecord | None:
    """The most recently started run (of `kind` when given), or None."""
    query = sa.select(sync_runs).where(sync_runs.c.connector == connector)
    if kind is not None:
        query = query.where(sync_runs.c.kind == str(kind))
    query = query.order_by(sync_runs.c.started_at.desc(), sync_runs.c.id.desc()).limit(1)
    with reading("reading the last run"):
        row = conn.execute(query).mappings().first()
    return None if row is None else _run_from_row(row)


def last_success_at(
    conn: Connection, connector: str, kind: RunKind = RunKind.SYNC
) -> datetime | None:
    """When the last succeeded run of `kind` finished, or None."""
    query = sa.select(sa.func.max(sync_runs.c.finished_at)).where(
        sync_runs.c.connector == connector,
        sync_runs.c.kind == str(kind),
        sync_runs.c.outcome == RunOutcome.SUCCEEDED.value,
    )
    with reading("reading the last successful run"):
        value = conn.execute(query).scalar_one_or_none()
    return _as_utc(value)


def _as_utc(value: Any) -> datetime | None:
    """Aggregates lose the column type on SQLite (a string comes back): restore a UTC datetime."""
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if not isinstance(value, datetime):
        raise StoreError(f"unexpected timestamp {value!r} in the database")
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
