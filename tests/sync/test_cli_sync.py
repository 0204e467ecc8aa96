"""`connector sync` through the CLI: exit codes for a failed sync and for a sync already running."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from connector.simulator import Fault, serve_in_thread
from connector.store.lock import sync_lock
from tests.support import CliResult, Tenant, run_cli, write_config


def run_in_thread(argv: list[str], config: Path) -> CliResult:
    """The CLI in another thread, as another process would be for the lock (it is per thread)."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(run_cli, argv, config).result(timeout=60)


def test_failed_sync_exits_1_with_one_line(tenant: Tenant, tmp_path: Path, db_url: str) -> None:
    """A sync whose page 3 keeps failing exits 1 with the reason on one `error:` line."""
    tenant.sim.add_fault(Fault("finding", "http_503", on_call=3, times=100))
    with serve_in_thread(tenant.sim) as running:
        result = run_cli(
            ["sync", "--no-progress"], write_config(tmp_path, running.base_url, db_url)
        )
    assert result.code == 1
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1
    assert "sync failed" in errors[0]


def test_sync_while_another_runs_exits_4_naming_the_holder(
    tenant: Tenant, tmp_path: Path, db_url: str
) -> None:
    """While the lock is held elsewhere, `connector sync` exits 4 and says since/pid/host."""
    with serve_in_thread(tenant.sim) as running:
        config = write_config(tmp_path, running.base_url, db_url)
        with sync_lock(tenant.engine, "qualys-was"):
            result = run_in_thread(["sync", "--no-progress"], config)
    assert result.code == 4
    assert "a sync is already running for connector qualys-was (since" in result.stderr
    assert "pid" in result.stderr


def test_sync_wait_runs_once_the_other_sync_finishes(
    tenant: Tenant, tmp_path: Path, db_url: str
) -> None:
    """With --wait, `connector sync` waits for the holder to finish, then syncs (exit 0)."""
    with serve_in_thread(tenant.sim) as running:
        config = write_config(tmp_path, running.base_url, db_url)
        with ThreadPoolExecutor(max_workers=1) as pool:
            with sync_lock(tenant.engine, "qualys-was"):
                future = pool.submit(run_cli, ["sync", "--no-progress", "--wait", "30"], config)
                time.sleep(1.0)  # the other sync "runs" for a second
                assert not future.done()
            result = future.result(timeout=60)
    assert result.code == 0, result.stderr
    assert "succeeded in" in result.stdout
