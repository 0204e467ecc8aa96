"""Assets: unchanged ones only get last_seen_at, last_observed only moves forward, retention."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.engine import Engine
from storefactories import CONNECTOR, LATER, NOW, asset, recorded_sql, rows

from connector.store import assets as store_assets
from connector.store.schema import assets


def _by_key(engine: Engine) -> dict[str, dict[str, object]]:
    return {r["key"]: r for r in rows(engine, assets)}  # type: ignore[misc]


def test_same_assets_twice_only_bump_last_seen_at(engine: Engine) -> None:
    """An unchanged asset batch is reported unchanged and only its last_seen_at is written."""
    batch = [asset(str(i)) for i in range(50)]
    with engine.begin() as conn:
        first = store_assets.upsert_assets(conn, CONNECTOR, batch, now=NOW)
    assert (len(first.created), first.updated, first.unchanged) == (50, [], 0)
    before = _by_key(engine)

    with recorded_sql(engine) as statements, engine.begin() as conn:
        second = store_assets.upsert_assets(conn, CONNECTOR, batch, now=LATER)

    assert (second.created, second.updated, second.unchanged) == ([], [], 50)
    written = [s for s in statements if s.startswith(("INSERT", "UPDATE"))]
    assert len(written) == 1 and "SET LAST_SEEN_AT" in written[0]
    after = _by_key(engine)
    assert {k: {**r, "last_seen_at": None} for k, r in after.items()} == {
        k: {**r, "last_seen_at": None} for k, r in before.items()
    }
    assert {r["last_seen_at"] for r in after.values()} == {LATER}


def test_stored_asset_fields_round_trip(engine: Engine) -> None:
    """Tags, attributes, times and source are stored as given, with first/last seen set to now."""
    with engine.begin() as conn:
        store_assets.upsert_assets(conn, CONNECTOR, [asset("9", source="import:burp")], now=NOW)
    row = _by_key(engine)["9"]
    expected = asset("9", source="import:burp")
    assert row["tags"] == ["prod", "web"] and row["attributes"] == {"owner": "team-a"}
    assert (row["first_observed"], row["last_observed"]) == (
        expected.first_observed,
        expected.last_observed,
    )
    assert (row["state"], row["archived_at"], row["source"]) == ("active", None, "import:burp")
    assert (row["first_seen_at"], row["last_seen_at"]) == (NOW, NOW)


def test_changed_asset_is_rewritten_but_keeps_first_seen_and_state(engine: Engine) -> None:
    """A changed asset is updated; first_seen_at and an archived state are left alone."""
    with engine.begin() as conn:
        store_assets.upsert_assets(
            conn, CONNECTOR, [asset("1", last_observed=NOW - timedelta(days=60))], now=NOW
        )
        store_assets.apply_retention(conn, CONNECTOR, cutoff=NOW - timedelta(days=30), now=NOW)
        result = store_assets.upsert_assets(
            conn,
            CONNECTOR,
            [asset("1", name="Renamed", last_observed=NOW - timedelta(days=60))],
            now=LATER,
        )
    assert result.updated == ["1"]
    row = _by_key(engine)["1"]
    assert (row["name"], row["first_seen_at"], row["last_seen_at"]) == ("Renamed", NOW, LATER)
    assert (row["state"], row["archived_at"]) == ("archived", NOW)


def test_last_observed_never_moves_backwards(engine: Engine) -> None:
    """raise_last_observed and upserts keep the later of the stored and the new last_observed."""
    early, late = NOW - timedelta(days=10), NOW - timedelta(days=2)
    with engine.begin() as conn:
        store_assets.upsert_assets(
            conn,
            CONNECTOR,
            [asset("1", last_observed=early), asset("2", last_observed=None)],
            now=NOW,
        )
        store_assets.raise_last_observed(conn, CONNECTOR, {"1": late, "2": early, "missing": late})
    got = _by_key(engine)
    assert (got["1"]["last_observed"], got["2"]["last_observed"]) == (late, early)
    with engine.begin() as conn:
        store_assets.raise_last_observed(conn, CONNECTOR, {"1": early})
        store_assets.upsert_assets(
            conn, CONNECTOR, [asset("1", last_observed=early, name="changed")], now=LATER
        )
    assert _by_key(engine)["1"]["last_observed"] == late


def test_retention_archives_stale_assets_and_reactivates_fresh_ones(engine: Engine) -> None:
    """Assets observed before the cutoff are archived; observed since, they become active again."""
    cutoff = NOW - timedelta(days=30)
    with engine.begin() as conn:
        store_assets.upsert_assets(
            conn,
            CONNECTOR,
            [
                asset("fresh", last_observed=NOW - timedelta(days=1)),
                asset("stale", last_observed=NOW - timedelta(days=31)),
                asset("never-observed", last_observed=None),  # falls back to last_seen_at (now)
            ],
            now=NOW,
        )
        archived, reactivated = store_assets.apply_retention(
            conn, CONNECTOR, cutoff=cutoff, now=NOW
        )
        assert (archived, reactivated) == (["stale"], [])
        assert store_assets.count_assets(conn, CONNECTOR) == {"active": 2, "archived": 1}
        assert store_assets.apply_retention(conn, CONNECTOR, cutoff=cutoff, now=NOW) == ([], [])
    assert (_by_key(engine)["stale"]["state"], _by_key(engine)["stale"]["archived_at"]) == (
        "archived",
        NOW,
    )

    with engine.begin() as conn:
        store_assets.raise_last_observed(conn, CONNECTOR, {"stale": LATER})
        archived, reactivated = store_assets.apply_retention(
            conn, CONNECTOR, cutoff=cutoff, now=LATER
        )
    assert (archived, reactivated) == ([], ["stale"])
    assert (_by_key(engine)["stale"]["state"], _by_key(engine)["stale"]["archived_at"]) == (
        "active",
        None,
    )


def test_retention_uses_last_seen_at_when_never_observed(engine: Engine) -> None:
    """An asset without last_observed is archived once the connector has not seen it since the cutoff."""
    with engine.begin() as conn:
        store_assets.upsert_assets(
            conn, CONNECTOR, [asset("1", last_observed=None)], now=NOW - timedelta(days=40)
        )
        archived, _ = store_assets.apply_retention(
            conn, CONNECTOR, cutoff=NOW - timedelta(days=30), now=NOW
        )
    assert archived == ["1"]
