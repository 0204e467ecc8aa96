"""The single-flight sync lock, with real second processes, on SQLite (and PostgreSQL when set)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from connector.errors import ExitCode, SyncAlreadyRunningError
from connector.store.lock import advisory_key, sync_lock
from connector.store.schema import sync_locks

CONNECTOR = "lock-test"

HOLDER = """
import sys
from connector.store.database import create_engine_for
from connector.store.lock import sync_lock

engine = create_engine_for(sys.argv[1])
with sync_lock(engine, sys.argv[2]) as info:
    print("locked", info.pid, flush=True)
    sys.stdin.readline()  # hold until the test closes stdin (or kills us)
print("released", flush=True)
"""


class Holder:
    """A second process holding the lock until released or killed."""

    def __init__(self, url: str, connector: str = CONNECTOR) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-c", HOLDER, url, connector],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline().split()
        assert line[:1] == ["locked"], f"holder did not lock: {line}"
        self.pid = int(line[1])

    def release(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        assert self.proc.wait(10) == 0
        self._close()

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)
        self._close()

    def _close(self) -> None:
        for pipe in (self.proc.stdin, self.proc.stdout):
            if pipe is not None and not pipe.closed:
                pipe.close()


@pytest.fixture
def url(engine: Engine) -> str:
    return engine.url.render_as_string(hide_password=False)


@pytest.fixture
def holder(url: str) -> Iterator[Holder]:
    held = Holder(url)
    yield held
    if held.proc.poll() is None:
        held.kill()


def test_second_process_is_refused_with_pid_and_host(engine: Engine, holder: Holder) -> None:
    """While another process syncs, acquiring fails at once, naming since/pid/host, exit code 4."""
    with pytest.raises(SyncAlreadyRunningError) as caught, sync_lock(engine, CONNECTOR):
        pass
    message = str(caught.value)
    assert message.startswith(f"a sync is already running for connector {CONNECTOR} (since ")
    assert f"pid {holder.pid} on {socket.gethostname()}" in message
    assert caught.value.exit_code == ExitCode.ALREADY_RUNNING


def test_lock_is_free_again_after_release(engine: Engine, holder: Holder) -> None:
    """Once the holder releases, the next process gets the lock, and the row names it."""
    holder.release()
    with sync_lock(engine, CONNECTOR) as info, engine.connect() as conn:
        assert info.pid == os.getpid()
        row = conn.execute(sa.select(sync_locks)).one()
        assert (row.pid, row.holder) == (os.getpid(), info.holder)
    with engine.connect() as conn:
        assert conn.execute(sa.select(sync_locks)).first() is None


def test_waiting_acquires_once_the_holder_finishes(engine: Engine, holder: Holder) -> None:
    """wait=True polls until the other process releases, within the timeout."""
    releasing = threading.Timer(0.3, holder.release)
    releasing.start()
    with sync_lock(engine, CONNECTOR, wait=True, timeout=10) as info:
        assert info.pid == os.getpid()
    # The lock frees before the holder process exits: let release() see it exit cleanly, or the
    # fixture's teardown would kill it under the timer thread's feet.
    releasing.join(timeout=15)


def test_waiting_gives_up_after_the_timeout(engine: Engine, holder: Holder) -> None:
    """wait=True with a timeout still refuses when the holder keeps the lock."""
    with (
        pytest.raises(SyncAlreadyRunningError),
        sync_lock(engine, CONNECTOR, wait=True, timeout=0.3),
    ):
        pass


def test_killed_holder_does_not_keep_the_lock(engine: Engine, holder: Holder) -> None:
    """SIGKILL the holder: the next process takes the lock (dead pid / closed session)."""
    holder.kill()
    with sync_lock(engine, CONNECTOR) as info:
        assert info.pid == os.getpid()


def test_other_connectors_are_independent(engine: Engine, holder: Holder) -> None:
    """The lock is per connector: another connector name syncs meanwhile."""
    with sync_lock(engine, "another-connector") as info:
        assert info.connector == "another-connector"


def test_lock_is_reentrant_in_one_thread_but_not_across_threads(engine: Engine) -> None:
    """A nested acquisition in the holding thread re-enters; another thread is refused."""
    refused: list[BaseException] = []

    def other_thread() -> None:
        try:
            with sync_lock(engine, CONNECTOR):
                pass
        except SyncAlreadyRunningError as exc:
            refused.append(exc)

    with sync_lock(engine, CONNECTOR) as outer:
        with sync_lock(engine, CONNECTOR) as inner:
            assert inner == outer
        thread = threading.Thread(target=other_thread)
        thread.start()
        thread.join(10)
    assert len(refused) == 1
    with sync_lock(engine, CONNECTOR):  # released once the outer block ends
        pass


def _plant_row(engine: Engine, *, host: str, pid: int, heartbeat_age: timedelta) -> None:
    now = datetime.now(UTC)
    with engine.begin() as conn:
        conn.execute(
            sa.insert(sync_locks).values(
                connector=CONNECTOR,
                holder="someone-else",
                host=host,
                pid=pid,
                acquired_at=now - heartbeat_age - timedelta(minutes=5),
                heartbeat_at=now - heartbeat_age,
            )
        )


@pytest.fixture
def sqlite_engine(engine: Engine) -> Engine:
    if engine.dialect.name != "sqlite":
        pytest.skip("the lock row is the lock only on SQLite")
    return engine


def test_stale_heartbeat_is_taken_over(sqlite_engine: Engine) -> None:
    """SQLite: a row from another host whose heartbeat is older than stale_after is taken over."""
    _plant_row(sqlite_engine, host="elsewhere", pid=1, heartbeat_age=timedelta(seconds=300))
    with sync_lock(sqlite_engine, CONNECTOR, stale_after=120) as info:
        assert info.host == socket.gethostname()


def test_fresh_row_from_another_host_is_respected(sqlite_engine: Engine) -> None:
    """SQLite: a row from another host with a recent heartbeat still holds the lock."""
    _plant_row(sqlite_engine, host="elsewhere", pid=1, heartbeat_age=timedelta(seconds=5))
    with (
        pytest.raises(SyncAlreadyRunningError, match="pid 1 on elsewhere"),
        sync_lock(sqlite_engine, CONNECTOR, stale_after=120),
    ):
        pass


def test_dead_pid_on_this_host_is_taken_over_at_once(sqlite_engine: Engine) -> None:
    """SQLite: a fresh row whose pid no longer exists on this host is taken over without waiting."""
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    _plant_row(sqlite_engine, host=socket.gethostname(), pid=dead.pid, heartbeat_age=timedelta(0))
    with sync_lock(sqlite_engine, CONNECTOR) as info:
        assert info.pid == os.getpid()


def test_heartbeat_keeps_the_row_fresh(sqlite_engine: Engine) -> None:
    """SQLite: while held, the heartbeat thread moves heartbeat_at forward."""
    with sync_lock(sqlite_engine, CONNECTOR, stale_after=1) as info:
        threading.Event().wait(0.6)
        with sqlite_engine.connect() as conn:
            beat = conn.execute(sa.select(sync_locks.c.heartbeat_at)).scalar_one()
    assert beat > info.acquired_at


def test_advisory_key_is_stable_and_signed_64_bit() -> None:
    """The PostgreSQL key is the same in every process and fits a bigint."""
    assert advisory_key("qualys-was") == advisory_key("qualys-was")
    assert advisory_key("qualys-was") != advisory_key("other")
    assert -(2**63) <= advisory_key("qualys-was") < 2**63
