"""The export contract (`connector export`): keys and their order, value shapes, every filter,
archived assets, CSV formula neutralising, --output, and weaknesses' counts."""

from __future__ import annotations

import csv
import io
import json
import re
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from connector.exports import csv_cell
from tests.support import (
    Tenant,
    run_cli,
)

ASSET_KEYS = [
    "connector", "id", "name", "url", "first_observed", "last_observed", "tags", "attributes",
    "state", "archived_at", "source",
]  # fmt: skip
FINDING_KEYS = [
    "connector", "id", "unique_id", "asset_id", "asset_name", "qid", "name", "type", "url",
    "param", "status", "qualys_status", "ignored_reason", "severity", "severity_source",
    "qualys_severity", "cvss_v3_base", "cvss_v3_temporal", "attack_vector", "cwes", "owasp",
    "wasc", "first_seen", "last_seen", "fixed_at", "description", "impact", "solution",
    "published_date", "source", "ports", "fixed_reason", "kb_cvss_v3_base",
]  # fmt: skip
WEAKNESS_KEYS = [
    "connector", "qid", "title", "category", "severity_level", "cves", "cvss_v3_base",
    "published_date", "open_findings", "affected_assets",
]  # fmt: skip
DATE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")


@pytest.fixture
def tenant(synced: Tenant) -> Tenant:
    return synced


@pytest.fixture
def config(offline_config: Path) -> Path:
    return offline_config


def export(config: Path, *argv: str) -> list[dict[str, Any]]:
    result = run_cli(["export", *argv], config, password="")
    assert result.code == 0, result.stderr
    return [json.loads(line) for line in result.stdout.splitlines()]


def open_vulnerabilities(tenant: Tenant) -> list[Any]:
    return [
        f
        for f in tenant.sim.dataset.findings()
        if f.type in ("VULNERABILITY", "SENSITIVE_CONTENT")
        and f.status not in ("FIXED", "PROTECTED")
    ]


def test_asset_records_have_the_contract_keys_in_order(tenant: Tenant, config: Path) -> None:
    """Each asset record has exactly the documented keys, in order, with ids as strings."""
    records = export(config, "assets")
    assert len(records) == 4
    webapps = {str(w.id): w for w in tenant.sim.dataset.webapps()}
    for record in records:
        assert list(record) == ASSET_KEYS
        assert record["id"] in webapps
        assert record["connector"] == "qualys-was"
        assert record["name"] == webapps[record["id"]].name
        assert record["state"] == "active"
        assert record["archived_at"] is None
        assert record["source"] == "api"
        assert DATE.match(record["first_observed"])
        assert DATE.match(record["last_observed"])
        assert record["tags"] == [t.name for t in webapps[record["id"]].tags]
        assert all(isinstance(tag, str) for tag in record["tags"])
        assert isinstance(record["attributes"], dict)


def test_finding_records_have_the_contract_keys_and_shapes(tenant: Tenant, config: Path) -> None:
    """Finding records: exact keys in order, ids as strings, cwes as ints, dates, null if unknown."""
    records = export(config, "findings")
    expected = {
        str(f.id): f
        for f in tenant.sim.dataset.findings()
        if f.type in ("VULNERABILITY", "SENSITIVE_CONTENT")
    }
    assert {r["id"] for r in records} == set(expected)
    for record in records:
        source = expected[record["id"]]
        assert list(record) == FINDING_KEYS
        assert isinstance(record["id"], str)
        assert record["asset_id"] == str(source.webapp_id)
        assert record["asset_name"] == source.webapp_name
        assert record["qid"] == source.qid
        assert record["cwes"] == list(source.cwe)
        assert all(type(c) is int for c in record["cwes"])
        assert all(isinstance(name, str) for name in record["owasp"] + record["wasc"])
        for key in ("first_seen", "last_seen"):
            assert DATE.match(record[key]), (key, record[key])
        if record["status"] == "Active":
            assert record["fixed_at"] is None
        else:
            assert DATE.match(record["fixed_at"])
        if source.cvss is None:
            assert record["cvss_v3_base"] is None
        if not source.is_ignored:
            assert record["ignored_reason"] is None
        assert record["source"] == "api"
        assert record["connector"] == "qualys-was"


def test_weakness_records_count_open_findings_and_affected_assets(
    tenant: Tenant, config: Path
) -> None:
    """Weakness records: exact keys; open_findings and affected_assets count Active findings."""
    records = export(config, "weaknesses")
    open_by_qid = Counter(f.qid for f in open_vulnerabilities(tenant))
    assets_by_qid: dict[int, set[int]] = {}
    for f in open_vulnerabilities(tenant):
        assets_by_qid.setdefault(f.qid, set()).add(f.webapp_id)
    assert records
    for record in records:
        assert list(record) == WEAKNESS_KEYS
        assert record["open_findings"] == open_by_qid.get(record["qid"], 0)
        assert record["affected_assets"] == len(assets_by_qid.get(record["qid"], ()))
        assert isinstance(record["cves"], list)
        if record["published_date"] is not None:
            assert DATE.match(record["published_date"])
    assert sum(r["open_findings"] for r in records) <= sum(open_by_qid.values())
    unknown = set(tenant.sim.dataset.unknown_qids)
    assert not unknown & {r["qid"] for r in records}  # QIDs the KB does not know are left out


def test_status_and_severity_filters(tenant: Tenant, config: Path) -> None:
    """--status and --severity (repeatable, any case) keep only matching findings."""
    everything = export(config, "findings")
    fixed = export(config, "findings", "--status", "Fixed")
    assert fixed
    assert {r["status"] for r in fixed} == {"Fixed"}
    assert len(fixed) == sum(r["status"] == "Fixed" for r in everything)
    high_or_critical = export(config, "findings", "--severity", "high", "--severity", "Critical")
    assert {r["severity"] for r in high_or_critical} == {"High", "Critical"}
    assert len(high_or_critical) == sum(r["severity"] in ("High", "Critical") for r in everything)
    both = export(config, "findings", "--status", "Active", "--severity", "High")
    assert {(r["status"], r["severity"]) for r in both} == {("Active", "High")}


def test_unknown_severity_is_a_usage_error(config: Path) -> None:
    """An unknown --severity is refused by the parser (exit 2) with the choices named."""
    with pytest.raises(SystemExit) as stopped:
        run_cli(["export", "findings", "--severity", "urgent"], config)
    assert stopped.value.code == 2


def test_asset_filter_by_id_or_name(tenant: Tenant, config: Path) -> None:
    """--asset keeps the findings (and the asset) of one web app, named by id or by name."""
    webapp = tenant.sim.dataset.webapps()[2]
    by_id = export(config, "findings", "--asset", str(webapp.id))
    by_name = export(config, "findings", "--asset", webapp.name)
    assert by_id
    assert by_id == by_name
    assert {r["asset_id"] for r in by_id} == {str(webapp.id)}
    assert [r["id"] for r in export(config, "assets", "--asset", webapp.name)] == [str(webapp.id)]


def test_since_filter(tenant: Tenant, config: Path) -> None:
    """--since keeps findings last seen on or after the date."""
    everything = export(config, "findings")
    dates = sorted(r["last_seen"] for r in everything)
    middle = dates[len(dates) // 2][:10]
    recent = export(config, "findings", "--since", middle)
    assert 0 < len(recent) < len(everything)
    assert all(r["last_seen"][:10] >= middle for r in recent)
    assert len(recent) == sum(r["last_seen"][:10] >= middle for r in everything)


def test_archived_assets_are_left_out_unless_asked(tenant: Tenant, config: Path) -> None:
    """Findings of an asset archived by retention are left out by default and come back with
    --include-archived; so do the asset itself and its weaknesses' counts."""
    archived = tenant.archive_one_webapp()
    default = export(config, "findings")
    included = export(config, "findings", "--include-archived")
    assert str(archived.id) not in {r["asset_id"] for r in default}
    assert str(archived.id) in {r["asset_id"] for r in included}
    assert len(included) == len(default) + sum(
        1
        for f in tenant.sim.dataset.findings()
        if f.webapp_id == archived.id and f.type in ("VULNERABILITY", "SENSITIVE_CONTENT")
    )
    assets = {r["id"]: r for r in export(config, "assets", "--include-archived")}
    assert assets[str(archived.id)]["state"] == "archived"
    assert DATE.match(assets[str(archived.id)]["archived_at"])
    assert str(archived.id) not in {r["id"] for r in export(config, "assets")}
    open_default = sum(r["open_findings"] for r in export(config, "weaknesses"))
    open_all = sum(r["open_findings"] for r in export(config, "weaknesses", "--include-archived"))
    assert open_all > open_default


def test_json_format_is_an_array_of_the_same_records(tenant: Tenant, config: Path) -> None:
    """--format json prints one JSON array holding exactly the JSON Lines records."""
    result = run_cli(["export", "findings", "--format", "json"], config, password="")
    assert result.code == 0
    assert json.loads(result.stdout) == export(config, "findings")


def test_csv_has_a_header_and_one_row_per_record(tenant: Tenant, config: Path) -> None:
    """--format csv writes the contract keys as header; lists joined with '; ', null as empty."""
    result = run_cli(["export", "findings", "--format", "csv"], config, password="")
    rows = list(csv.reader(io.StringIO(result.stdout)))
    assert rows[0] == FINDING_KEYS
    records = export(config, "findings")
    assert len(rows) == len(records) + 1
    first = dict(zip(rows[0], rows[1], strict=True))
    record = records[0]
    assert first["id"] == record["id"]
    assert first["cwes"] == "; ".join(str(c) for c in record["cwes"])
    assert first["fixed_at"] == (record["fixed_at"] or "")


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        ("=1+2", "'=1+2"),
        ("+SUM(A1)", "'+SUM(A1)"),
        ("-2+3", "'-2+3"),
        ("@cmd", "'@cmd"),
        ("\t=tab", "'\t=tab"),
        ("plain = text", "plain = text"),
        (["=a", "b"], "'=a; b"),
        (None, ""),
        (7.5, "7.5"),
    ],
)
def test_csv_cells_neutralise_formulas(value: object, cell: str) -> None:
    """A CSV cell starting with = + - @ (or tab/CR) is prefixed with a quote; others are kept."""
    assert csv_cell(value) == cell


def test_output_file(tenant: Tenant, config: Path, tmp_path: Path) -> None:
    """--output writes the file (nothing on stdout) and says how many records went there."""
    target = tmp_path / "out" / "findings.csv"
    target.parent.mkdir()
    result = run_cli(
        ["export", "findings", "--format", "csv", "--output", str(target)], config, password=""
    )
    assert result.code == 0
    assert result.stdout == ""
    count = len(export(config, "findings"))
    assert f"wrote {count} findings to {target}" in result.stderr
    with target.open(newline="", encoding="utf-8") as handle:
        assert len(list(csv.reader(handle))) == count + 1


def test_output_to_an_unwritable_place_is_one_clear_error(config: Path, tmp_path: Path) -> None:
    """--output into a missing directory fails with exit 1 and a one-line reason."""
    result = run_cli(
        ["export", "assets", "--output", str(tmp_path / "missing" / "a.jsonl")], config, password=""
    )
    assert result.code == 1
    assert result.stderr.startswith("error: cannot write")
