"""The habits of users' tools, through the CLI: closed pipes, `-` for stdout and stdin, read-only
commands that never create a database, `CONNECTOR_CONFIG=`, any-case filter values, `--json`
lists, `runs list`, editing a mapping's severity values, and whole-or-nothing export files."""

from __future__ import annotations

import io
import json
import os
import resource
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy import Engine

from connector import exports
from connector.cli import main
from connector.errors import StoreError
from connector.simulator import RunningServer, serve_in_thread
from tests.support import PASSWORD, Tenant, make_tenant, run_cli, write_config

ROOT = Path(__file__).resolve().parents[1]
NO_DATABASE = "run `connector sync` or `connector db upgrade` first"


@pytest.fixture
def config(offline_config: Path) -> Path:
    return offline_config


def cli_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CONNECTOR_", "QUALYS_"))}
    env.update(extra)
    return env


# --- pipes and `-` -------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["jsonl", "ocsf"])
def test_a_closed_pipe_ends_quietly_with_exit_0(
    synced: Tenant, config: Path, tmp_path: Path, fmt: str
) -> None:
    """`connector export findings | head -1` prints one line, and the connector (its pipefail
    status) exits 0 without a traceback although the reader closed the pipe early."""
    full = run_cli(["export", "findings", "--format", fmt], config, password="").stdout
    assert len(full.encode()) > 65536 + 16384, "the export must outgrow the pipe buffer"
    command = (
        f"set -o pipefail; {sys.executable} -m connector --config {config} "
        f"export findings --format {fmt} | head -1"
    )
    done = subprocess.run(
        ["bash", "-c", command],
        capture_output=True,
        text=True,
        env=cli_env(),
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == full.splitlines(keepends=True)[0]
    assert "Traceback" not in done.stderr
    assert "BrokenPipe" not in done.stderr


def test_output_dash_is_standard_output(synced: Tenant, config: Path) -> None:
    """--output - prints to standard output, exactly what no --output prints."""
    plain = run_cli(["export", "findings"], config, password="")
    dashed = run_cli(["export", "findings", "--output", "-"], config, password="")
    assert dashed.code == 0
    assert dashed.stdout == plain.stdout
    assert "wrote" not in dashed.stderr


@pytest.mark.shared
def test_import_dash_reads_standard_input(
    samples: Path, tmp_path: Path, db_url: str, engine: Engine
) -> None:
    """`connector import -` imports the report piped in, like the same file named."""
    report = (samples / "was_scan_report_584455.csv").read_bytes()
    out, err = io.StringIO(), io.StringIO()
    code = main(
        ["--config", str(write_config(tmp_path, "http://unused.test", db_url)), "import", "-"],
        environ={},
        stdout=out,
        stderr=err,
        stdin=io.BytesIO(report),
    )
    assert code == 0, err.getvalue()
    assert "imported stdin" in out.getvalue()
    with engine.connect() as conn:
        stored = conn.execute(sa.text("SELECT count(*) FROM findings")).scalar_one()
    assert stored > 0
    assert not list(tmp_path.glob("connector-import-*"))  # the spool is gone


# --- read-only commands --------------------------------------------------------------------------

READ_ONLY = [
    ["export", "findings"],
    ["export", "assets", "--format", "csv"],
    ["scans", "list"],
    ["mappings", "list"],
    ["mappings", "show", "mine"],
    ["runs", "list"],
    ["validate"],
]


@pytest.mark.parametrize("argv", READ_ONLY, ids=lambda a: " ".join(a))
def test_read_only_commands_never_create_a_database_file(tmp_path: Path, argv: list[str]) -> None:
    """A typo in the SQLite path is exit 1 with the advice line, and no file or directory
    appears where the typo points."""
    missing = tmp_path / "typo" / "connector.db"
    config = write_config(tmp_path, "http://127.0.0.1:9", f"sqlite:///{missing}")
    result = run_cli(argv, config)
    assert result.code == 1
    assert result.stderr.strip().splitlines() == [f"error: no database at {missing}: {NO_DATABASE}"]
    assert not missing.parent.exists()


@pytest.mark.parametrize("argv", READ_ONLY, ids=lambda a: " ".join(a))
def test_read_only_commands_never_migrate_an_empty_database(
    tmp_path: Path, empty_db_url: str, argv: list[str]
) -> None:
    """An empty database is exit 1 with the advice line and stays empty (no tables created)."""
    config = write_config(tmp_path, "http://127.0.0.1:9", empty_db_url)
    if empty_db_url.startswith("sqlite"):
        url = sa.make_url(empty_db_url)
        Path(url.database or "").parent.mkdir(parents=True, exist_ok=True)
        sa.create_engine(url).connect().close()  # the file exists, without tables
    result = run_cli(argv, config)
    assert result.code == 1
    assert NO_DATABASE in result.stderr
    engine = sa.create_engine(empty_db_url)
    try:
        assert sa.inspect(engine).get_table_names() == []
    finally:
        engine.dispose()


def test_builtin_mapping_is_shown_without_a_database(tmp_path: Path) -> None:
    """`mappings show qualys-was-csv` needs no database: the built-ins ship with the code."""
    missing = tmp_path / "none" / "connector.db"
    result = run_cli(
        ["mappings", "show", "qualys-was-csv"],
        write_config(tmp_path, "http://unused.test", f"sqlite:///{missing}"),
    )
    assert result.code == 0
    assert json.loads(result.stdout)["builtin"] is True
    assert not missing.parent.exists()


# --- configuration from the environment only -----------------------------------------------------


def test_empty_connector_config_means_environment_only(
    synced: Tenant, db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With CONNECTOR_CONFIG= (empty) a ./config.toml is not read; unset, it is."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "config.toml").write_text("this is [not toml\n", encoding="utf-8")
    out, err = io.StringIO(), io.StringIO()
    environ = {"CONNECTOR_CONFIG": "", "CONNECTOR_DATABASE_URL": db_url}
    code = main(["export", "assets"], environ=environ, stdout=out, stderr=err)
    assert code == 0, err.getvalue()
    assert len(out.getvalue().splitlines()) == 4
    del environ["CONNECTOR_CONFIG"]
    assert main(["export", "assets"], environ=environ, stdout=out, stderr=err) == 2


# --- filters in any letter case ------------------------------------------------------------------


def test_filter_values_match_in_any_case(synced: Tenant, config: Path) -> None:
    """Kind, --format, --status, --severity and --asset names are matched in any letter case."""
    expected = run_cli(["export", "findings", "--status", "Fixed"], config, password="").stdout
    assert expected
    shouted = run_cli(["export", "FINDINGS", "--status", "FIXED"], config, password="")
    assert (shouted.code, shouted.stdout) == (0, expected)
    csv_lower = run_cli(["export", "findings", "--format", "CSV"], config, password="")
    assert csv_lower.stdout.startswith("connector,id,")
    webapp = synced.sim.dataset.webapps()[1]
    by_name = run_cli(["export", "assets", "--asset", webapp.name.upper()], config, password="")
    assert [json.loads(line)["id"] for line in by_name.stdout.splitlines()] == [str(webapp.id)]
    runs = run_cli(["runs", "list", "--kind", "SYNC", "--outcome", "Succeeded", "--json"], config)
    assert [r["kind"] for r in json.loads(runs.stdout)] == ["sync"]


# --- runs list, --json lists ---------------------------------------------------------------------


def test_runs_list_shows_each_sync_newest_first(synced: Tenant, config: Path) -> None:
    """`runs list` prints one line per run with what it changed; --json gives every count."""
    synced.sync()
    table = run_cli(["runs", "list"], config)
    assert table.code == 0
    lines = table.stdout.splitlines()
    assert lines[0].startswith("id")
    assert [line.split()[0] for line in lines[1:]] == ["2", "1"]
    assert "created" in lines[2]  # the first sync created findings
    listed = json.loads(run_cli(["runs", "list", "--json"], config).stdout)
    assert [r["id"] for r in listed] == [2, 1]
    assert listed[1]["counts"]["findings_created"] > 0
    assert {r["outcome"] for r in listed} == {"succeeded"}
    assert run_cli(["runs", "list", "--limit", "1", "--json"], config).stdout.count('"id"') == 1


def test_mappings_list_json(config: Path, synced: Tenant) -> None:
    """`mappings list --json` lists built-in and saved mappings as objects."""
    made = run_cli(
        ["mappings", "create", "mine", "--column", "title=T", "--column", "host=H"], config
    )
    assert made.code == 0, made.stderr
    listed = json.loads(run_cli(["mappings", "list", "--json"], config).stdout)
    by_name = {m["name"]: m for m in listed}
    assert by_name["qualys-was-csv"]["builtin"] is True
    assert by_name["mine"] == {
        "name": "mine",
        "format": "flat_csv",
        "builtin": False,
        "updated_at": by_name["mine"]["updated_at"],
    }
    assert by_name["mine"]["updated_at"].endswith("Z")


# --- a mapping's severity values -----------------------------------------------------------------


def show(config: Path, name: str) -> dict[str, object]:
    result = run_cli(["mappings", "show", name], config)
    assert result.code == 0, result.stderr
    shown: dict[str, object] = json.loads(result.stdout)
    return shown


def test_severity_flags_alone_edit_a_saved_mapping(config: Path, synced: Tenant) -> None:
    """`mappings create NAME --severity V=LABEL` on a saved mapping changes or adds that value
    and keeps its columns and other values."""
    run_cli(
        ["mappings", "create", "mine", "--column", "title=T", "--column", "host=H",
         "--column", "severity=S", "--severity", "1=Low", "--severity", "2=Medium"],
        config,
    )  # fmt: skip
    edited = run_cli(
        ["mappings", "create", "mine", "--severity", "2=High", "--severity", "urgent=critical"],
        config,
    )
    assert edited.code == 0, edited.stderr
    assert "updated the severity values of mapping mine" in edited.stdout
    shown = show(config, "mine")
    assert shown["columns"] == {"title": "T", "host": "H", "severity": "S"}
    assert shown["severity_values"] == {"1": "Low", "2": "High", "urgent": "Critical"}


def test_severity_flags_alone_for_an_unknown_flat_mapping_say_what_to_do(
    config: Path, synced: Tenant
) -> None:
    """--severity alone for a name nothing is saved under fails with a hint that works."""
    result = run_cli(["mappings", "create", "new", "--severity", "1=Low"], config)
    assert result.code == 1
    assert "no saved mapping 'new' to change" in result.stderr
    assert "`connector mappings create --help`" in result.stderr


def test_severity_flags_with_from_file_override_the_files_values(
    config: Path, synced: Tenant, tmp_path: Path
) -> None:
    """--from-file with --severity takes the file and adds or overrides its severity values."""
    toml = tmp_path / "m.toml"
    toml.write_text(
        '[columns]\ntitle = "T"\nurl = "U"\nseverity = "S"\n[severity]\n"1" = "Low"\n"5" = "High"\n',
        encoding="utf-8",
    )
    made = run_cli(
        ["mappings", "create", "filed", "--from-file", str(toml), "--severity", "5=Critical"],
        config,
    )
    assert made.code == 0, made.stderr
    assert show(config, "filed")["severity_values"] == {"1": "Low", "5": "Critical"}


# --- sync --json ---------------------------------------------------------------------------------


@pytest.fixture
def served(engine: Engine, db_url: str) -> Iterator[tuple[Tenant, RunningServer]]:
    tenant = make_tenant(engine, db_url)
    with serve_in_thread(tenant.sim) as running:
        yield tenant, running


def test_sync_json_prints_the_reports_counts(
    served: tuple[Tenant, RunningServer], tmp_path: Path, db_url: str, engine: Engine
) -> None:
    """`sync --json` prints one JSON object: the run, its outcome and the counts as tallied."""
    _tenant, running = served
    result = run_cli(["sync", "--json"], write_config(tmp_path, running.base_url, db_url))
    assert result.code == 0, result.stderr
    body = json.loads(result.stdout)
    assert body["outcome"] == "succeeded"
    assert body["run_id"] == 1
    with engine.connect() as conn:
        stored = conn.execute(sa.text("SELECT count(*) FROM findings")).scalar_one()
    assert body["counts"]["findings_created"] == stored
    assert body["validation"] is None


def test_sync_json_reports_a_failure_as_json_too(tmp_path: Path, db_url: str) -> None:
    """A sync that cannot reach Qualys prints a JSON outcome and exits 1 with one stderr line."""
    result = run_cli(["sync", "--json"], write_config(tmp_path, "http://127.0.0.1:9", db_url))
    assert result.code == 1
    body = json.loads(result.stdout)
    assert (body["outcome"], body["exit_code"]) == ("failed", 1)
    assert result.stderr.strip().splitlines()[-1].startswith("error: sync failed:")
    assert PASSWORD not in result.stdout + result.stderr


# --- an export file is whole or absent -----------------------------------------------------------


def test_a_database_error_mid_export_leaves_no_file(
    synced: Tenant, config: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The store failing after some records were written: exit 1, one line, no output file, no
    temporary file, and an earlier export at that path is left as it was."""
    target = tmp_path / "out" / "findings.jsonl"
    target.parent.mkdir()
    target.write_text("earlier export\n", encoding="utf-8")
    shape = exports.shape
    written: list[int] = []

    def failing_shape(kind: str, row: object, **options: bool) -> dict[str, object]:
        if len(written) == 10:
            raise StoreError("export query failed: database disk image is malformed")
        written.append(1)
        return shape(kind, row, **options)  # type: ignore[arg-type]

    monkeypatch.setattr(exports, "shape", failing_shape)
    result = run_cli(["export", "findings", "--output", str(target)], config, password="")
    assert result.code == 1
    assert result.stderr.strip() == "error: export query failed: database disk image is malformed"
    assert target.read_text(encoding="utf-8") == "earlier export\n"
    assert [p.name for p in target.parent.iterdir()] == ["findings.jsonl"]


def _limit_file_size() -> None:  # runs in the child: files may not grow past 48 KiB
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past it fails with EFBIG instead
    resource.setrlimit(resource.RLIMIT_FSIZE, (48 * 1024, 48 * 1024))


def test_a_full_disk_mid_export_leaves_no_file(
    synced: Tenant, config: Path, tmp_path: Path, db_url: str
) -> None:
    """A write that fails part-way (the file may not grow: as on a full disk) is exit 1 with one
    line, and neither the output file nor a temporary file is left behind."""
    if not db_url.startswith("sqlite"):
        pytest.skip("the file size limit is a property of this process's files, not the server")
    target = tmp_path / "out" / "findings.json"
    target.parent.mkdir()
    done = subprocess.run(
        [sys.executable, "-m", "connector", "--config", str(config), "export", "findings",
         "--format", "json", "--output", str(target)],
        capture_output=True, text=True, env=cli_env(), timeout=60, preexec_fn=_limit_file_size, check=False,
    )  # fmt: skip
    assert done.returncode == 1, done.stderr
    lines = done.stderr.strip().splitlines()
    assert lines == [f"error: cannot write {target}: File too large; nothing was written there"]
    assert list(target.parent.iterdir()) == []
