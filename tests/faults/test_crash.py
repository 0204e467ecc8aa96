"""The process or the database dies mid-sync: SIGKILL of a running `connector sync`, and a
PostgreSQL restart while pages are being stored. Afterwards a normal sync recovers and stores what
a never-faulted sync stores."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from connector.errors import ConnectorError
from connector.models import RunOutcome
from connector.simulator import Dataset, Fault, Simulator, serve_in_thread
from tests.support import (
    PASSWORD,
    USERNAME,
    Snapshot,
    Tenant,
    assert_nothing_wrongly_fixed,
    runs,
    snapshot,
    write_config,
)

Reference = Callable[[Tenant], Snapshot]
REPO = Path(__file__).resolve().parents[2]


def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def processes_in_group(group: int) -> list[int]:
    """Pids of the live processes in a process group (from /proc; zombies excluded)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()  # after "pid (comm) "
        if fields[0] != "Z" and int(fields[2]) == group:
            found.append(int(entry.name))
    return found


def test_sigkill_mid_sync_then_a_normal_sync_recovers(
    tenant: Tenant, reference: Reference, tmp_path: Path, db_url: str
) -> None:
    """A `connector sync` killed with SIGKILL after a few pages leaves a "running" run; the next
    sync takes over, marks it abandoned, and ends with a clean sync's store and no duplicates."""
    now = datetime.now(UTC)  # the child syncs at the real time: data must be fresh for retention
    sim = Simulator(
        Dataset.generate(webapps=4, findings=120, seed=11, now=now),
        username=USERNAME,
        password=PASSWORD,
        page_delay=0.15,
    )
    live = replace(tenant, sim=sim, now=now)
    with serve_in_thread(sim) as running:
        config = write_config(tmp_path, running.base_url, db_url)
        child = subprocess.Popen(
            [sys.executable, "-m", "connector", "--config", str(config), "sync", "--no-progress"],
            cwd=REPO,
            env={**os.environ, "QUALYS_PASSWORD": PASSWORD, "PYTHONPATH": str(REPO)},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,  # its own process group: whatever it started is found below
        )
        try:
            wait_for(lambda: sim.stats.calls["finding_search"] >= 3, 30, "three findings pages")
        finally:
            child.send_signal(signal.SIGKILL)
            child.wait(timeout=10)
    assert child.returncode == -signal.SIGKILL
    assert processes_in_group(child.pid) == []  # no worker process outlives the sync
    assert [r["outcome"] for r in runs(tenant.engine)] == ["running"]
    stored_before = len(snapshot(tenant.engine).findings)
    assert stored_before < len(reference(live).findings)  # killed part-way
    sim.page_delay = 0.0
    report = live.sync()
    assert report.outcome is RunOutcome.SUCCEEDED
    assert [r["outcome"] for r in runs(tenant.engine)] == ["abandoned", "succeeded"]
    assert report.counts.findings_created == len(reference(live).findings) - stored_before
    assert snapshot(tenant.engine) == reference(live)
    assert_nothing_wrongly_fixed(tenant.engine)


# --- PostgreSQL restarted mid-sync --------------------------------------------------------------
RESTART_MARK = 0.0123  # the "slow" fault's seconds that mean: restart PostgreSQL now


def _cluster() -> list[str]:
    versions = sorted(os.listdir("/etc/postgresql"))
    return [versions[-1], "main"]


def _pg_ctl(action: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        ["pg_ctlcluster", "--skip-systemctl-redirect", *_cluster(), action],
        capture_output=True,
        timeout=90,
        check=False,
    )


@pytest.fixture
def restartable_postgres(db_url: str) -> Iterator[None]:
    """Skips unless the test database is a local PostgreSQL we may restart; starts it again after."""
    if not db_url.startswith("postgresql"):
        pytest.skip("restarting the database only applies to PostgreSQL")
    if shutil.which("pg_ctlcluster") is None or os.geteuid() != 0:
        pytest.skip("needs pg_ctlcluster and root to restart PostgreSQL")
    if not Path("/etc/postgresql").is_dir() or not os.listdir("/etc/postgresql"):
        pytest.skip("no local PostgreSQL cluster")
    try:
        yield
    finally:
        if _pg_ctl("status").returncode != 0:
            _pg_ctl("start")
        wait_for(lambda: _pg_ctl("status").returncode == 0, 60, "PostgreSQL to run again")


def test_postgres_restarted_mid_sync(
    tenant: Tenant, reference: Reference, restartable_postgres: None
) -> None:
    """PostgreSQL restarting while findings pages are stored fails the sync cleanly (or it
    carries on); then a clean sync stores what a never-faulted sync stores."""

    def sleep(seconds: float) -> None:
        if seconds == RESTART_MARK:
            result = _pg_ctl("restart")
            assert result.returncode == 0, result.stderr.decode(errors="replace")

    sim = Simulator(tenant.sim.dataset, username=USERNAME, password=PASSWORD, sleep=sleep)
    live = replace(tenant, sim=sim)
    sim.add_fault(Fault("finding", "slow", on_call=3, seconds=RESTART_MARK))
    try:
        outcome: object = live.sync().outcome
    except ConnectorError as exc:  # failing cleanly is fine: one of our errors, no raw driver error
        outcome = exc
    assert sim.stats.faults_fired == 1
    assert outcome is RunOutcome.SUCCEEDED or isinstance(outcome, ConnectorError)
    assert_nothing_wrongly_fixed(tenant.engine)
    report = live.sync()
    assert report.outcome is RunOutcome.SUCCEEDED, outcome
    assert snapshot(tenant.engine) == reference(live)
    assert "running" not in [r["outcome"] for r in runs(tenant.engine)]
