"""The single-flight sync lock: at most one sync per connector per database, across processes.

PostgreSQL: a session advisory lock (`pg_try_advisory_lock`) on a dedicated connection held for the
whole sync; the server releases it when that connection or process dies.

SQLite: a row in `sync_locks`, claimed with one atomic INSERT (or a compare-and-swap UPDATE when
taking over a stale row), refreshed by a heartbeat thread. A row whose heartbeat is older than
`stale_after` seconds, or whose pid is dead on this same host, is taken over: a crashed process
cannot hold the lock forever.

On both, the `sync_locks` row says who holds the lock, so the refusal can name since/pid/host.
The lock is re-entrant within one thread (a `connector sync` inside a held lock does not deadlock).
"""

from __future__ import annotations

import hashlib
import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import SQLAlchemyError

from connector.errors import StoreError, SyncAlreadyRunningError, SyncLockLostError
from connector.store.failures import db_reason
from connector.store.schema import sync_locks

log = logging.getLogger(__name__)

POLL_SECONDS = 0.5  # how often a waiting process retries
_KEY_PREFIX = b"qualys-was-connector sync "


@dataclass(frozen=True, slots=True)
class LockInfo:
    """Who holds (or held) a connector's sync lock."""

    connector: str
    holder: str  # a random token per acquisition
    host: str
    pid: int
    acquired_at: datetime
    heartbeat_at: datetime | None = None

    def describe(self) -> str:
        since = self.acquired_at.astimezone(UTC).isoformat(timespec="seconds")
        return f"since {since.replace('+00:00', 'Z')}, pid {self.pid} on {self.host}"


@dataclass
class _Held:
    thread_id: int
    info: LockInfo
    depth: int
    lock: _RowLock | _PostgresLock


_held: dict[tuple[str, str], _Held] = {}
_held_guard = threading.Lock()


def advisory_key(connector: str) -> int:
    """The signed 64-bit PostgreSQL advisory-lock key for a connector name (stable everywhere)."""
    digest = hashlib.blake2b(_KEY_PREFIX + connector.encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def _utcnow() -> datetime:
    return datetime.now(UTC)


@contextmanager
def sync_lock(
    engine: Engine,
    connector: str,
    *,
    wait: bool = False,
    timeout: float = 0,
    stale_after: float = 120,
    stop: threading.Event | None = None,
) -> Iterator[LockInfo]:
    """Hold the connector's sync lock for the duration of the block.

    Held by another process: with wait=False raise SyncAlreadyRunningError at once; with wait=True
    retry every POLL_SECONDS for `timeout` seconds (timeout <= 0: until acquired or `stop` is
    set), then raise it. Database failures raise StoreError.
    """
    registry_key = (engine.url.render_as_string(hide_password=False), connector)
    me = threading.get_ident()
    with _held_guard:
        held = _held.get(registry_key)
        if held is not None and held.thread_id == me:
            held.depth += 1
            reentered: LockInfo | None = held.info
        else:
            reentered = None
    if reentered is not None:
        try:
            yield reentered
        finally:
            with _held_guard:
                _held[registry_key].depth -= 1
        return

    backend = _PostgresLock if engine.dialect.name == "postgresql" else _RowLock
    lock = backend(engine, connector, stale_after=stale_after)
    info = _acquire(lock, connector, wait=wait, timeout=timeout, stop=stop)
    with _held_guard:
        _held[registry_key] = _Held(me, info, 1, lock)
    log.info("sync lock acquired for connector %s (%s)", connector, info.describe())
    try:
        yield info
    finally:
        with _held_guard:
            _held.pop(registry_key, None)
        lock.release()
        log.info("sync lock released for connector %s", connector)


def ensure_lock_held(engine: Engine, connector: str) -> None:
    """Raise SyncLockLostError unless this process still holds the connector's sync lock.

    A sync calls it between pages: a PostgreSQL advisory lock dies with its connection (a server
    restart), and a SQLite row can be taken over after a long stall; either way another process
    may now sync, so this one must stop rather than run beside it."""
    registry_key = (engine.url.render_as_string(hide_password=False), connector)
    with _held_guard:
        held = _held.get(registry_key)
    if held is None or not held.lock.still_held():
        raise SyncLockLostError(
            f"lost the sync lock of connector {connector} (its database session ended or "
            "another process took it over): stopped so that two syncs never run at once; "
            "the next sync carries on from what was stored"
        )


def _acquire(
    lock: _RowLock | _PostgresLock,
    connector: str,
    *,
    wait: bool,
    timeout: float,
    stop: threading.Event | None,
) -> LockInfo:
    deadline = time.monotonic() + timeout if timeout > 0 else None
    announced = False
    while True:
        info = lock.try_acquire()
        if info is not None:
            return info
        holder = lock.current()
        out_of_time = deadline is not None and time.monotonic() >= deadline
        if not wait or out_of_time or (stop is not None and stop.is_set()):
            raise SyncAlreadyRunningError(_refusal(connector, holder))
        if not announced:
            log.info("waiting for the running sync of connector %s to finish", connector)
            announced = True
        pause = POLL_SECONDS
        if deadline is not None:
            pause = max(0.0, min(pause, deadline - time.monotonic()))
        if stop is not None:
            stop.wait(pause)
        else:
            time.sleep(pause)


def _refusal(connector: str, holder: LockInfo | None) -> str:
    where = f" ({holder.describe()})" if holder is not None else ""
    return f"a sync is already running for connector {connector}{where}"


def _read_row(conn: Connection, connector: str) -> LockInfo | None:
    row = conn.execute(sa.select(sync_locks).where(sync_locks.c.connector == connector)).first()
    if row is None:
        return None
    return LockInfo(
        connector=row.connector,
        holder=row.holder,
        host=row.host,
        pid=row.pid,
        acquired_at=row.acquired_at,
        heartbeat_at=row.heartbeat_at,
    )


def _current_holder(engine: Engine, connector: str) -> LockInfo | None:
    """Who the sync_locks row says holds the connector's lock, if anyone."""
    try:
        with engine.connect() as conn:
            return _read_row(conn, connector)
    except SQLAlchemyError as exc:
        raise _store_error("reading", connector, exc) from exc


def _new_info(connector: str, now: datetime) -> LockInfo:
    return LockInfo(
        connector=connector,
        holder=uuid.uuid4().hex,
        host=socket.gethostname(),
        pid=os.getpid(),
        acquired_at=now,
        heartbeat_at=now,
    )


def _values(info: LockInfo) -> dict[str, object]:
    return {
        "connector": info.connector,
        "holder": info.holder,
        "host": info.host,
        "pid": info.pid,
        "acquired_at": info.acquired_at,
        "heartbeat_at": info.heartbeat_at or info.acquired_at,
    }


def pid_alive(pid: int) -> bool:
    """Whether a process with this pid exists on this host."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by another user
    return True


def _store_error(action: str, connector: str, exc: SQLAlchemyError) -> StoreError:
    return StoreError(f"{action} the sync lock of connector {connector} failed: {db_reason(exc)}")


class _RowLock:
    """SQLite: a heartbeated row in sync_locks."""

    def __init__(
        self,
        engine: Engine,
        connector: str,
        *,
        stale_after: float,
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        self.engine = engine
        self.connector = connector
        self.stale_after = stale_after
        self.clock = clock
        self.info: LockInfo | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def heartbeat_seconds(self) -> float:
        return max(0.2, min(5.0, self.stale_after / 4))

    def is_stale(self, row: LockInfo, now: datetime) -> bool:
        beat = row.heartbeat_at or row.acquired_at
        if now - beat > timedelta(seconds=self.stale_after):
            return True
        return row.host == socket.gethostname() and not pid_alive(row.pid)

    def try_acquire(self) -> LockInfo | None:
        now = self.clock()
        mine = _new_info(self.connector, now)
        try:
            with self.engine.begin() as conn:
                inserted = conn.execute(
                    sqlite_insert(sync_locks).values(_values(mine)).on_conflict_do_nothing()
                ).rowcount
                if inserted != 1:
                    row = _read_row(conn, self.connector)
                    if row is None or not self.is_stale(row, now):
                        return None
                    # Compare-and-swap on the old holder: of two takers, exactly one wins.
                    taken = conn.execute(
                        sa.update(sync_locks)
                        .where(
                            sync_locks.c.connector == self.connector,
                            sync_locks.c.holder == row.holder,
                        )
                        .values(_values(mine))
                    ).rowcount
                    if taken != 1:
                        return None
                    log.warning(
                        "took over the stale sync lock of connector %s (%s, last heartbeat %s)",
                        self.connector,
                        row.describe(),
                        (row.heartbeat_at or row.acquired_at).isoformat(timespec="seconds"),
                    )
        except SQLAlchemyError as exc:
            raise _store_error("acquiring", self.connector, exc) from exc
        self.info = mine
        self._thread = threading.Thread(
            target=self._heartbeat,
            args=(mine,),
            name=f"sync-lock-heartbeat-{self.connector}",
            daemon=True,
        )
        self._thread.start()
        return mine

    def current(self) -> LockInfo | None:
        return _current_holder(self.engine, self.connector)

    def still_held(self) -> bool:
        """True while the row still names this holder."""
        if self.info is None:
            return False
        try:
            row = self.current()
        except StoreError:
            return False
        return row is not None and row.holder == self.info.holder

    def _heartbeat(self, info: LockInfo) -> None:
        while not self._stop.wait(self.heartbeat_seconds):
            try:
                with self.engine.begin() as conn:
                    kept = conn.execute(
                        sa.update(sync_locks)
                        .where(
                            sync_locks.c.connector == self.connector,
                            sync_locks.c.holder == info.holder,
                        )
                        .values(heartbeat_at=self.clock())
                    ).rowcount
            except SQLAlchemyError as exc:  # a busy database: try again at the next beat
                log.warning("sync lock heartbeat failed (will retry): %s", exc.__class__.__name__)
                continue
            if kept != 1:
                log.error(
                    "the sync lock of connector %s was taken over by another process "
                    "(this process stalled longer than %ss)",
                    self.connector,
                    self.stale_after,
                )
                return

    def release(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        if self.info is None:
            return
        try:
            with self.engine.begin() as conn:
                conn.execute(
                    sa.delete(sync_locks).where(
                        sync_locks.c.connector == self.connector,
                        sync_locks.c.holder == self.info.holder,
                    )
                )
        except SQLAlchemyError as exc:
            # The row goes stale and is taken over later; nothing is lost.
            log.warning(
                "could not release the sync lock of connector %s: %s",
                self.connector,
                db_reason(exc),
            )


class _PostgresLock:
    """PostgreSQL: a session advisory lock on a dedicated connection, plus an informational row."""

    def __init__(self, engine: Engine, connector: str, *, stale_after: float) -> None:
        self.engine = engine
        self.connector = connector
        self.key = advisory_key(connector)
        self.conn: Connection | None = None
        self.info: LockInfo | None = None

    def try_acquire(self) -> LockInfo | None:
        conn: Connection | None = None
        try:
            conn = self.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
            got: bool = conn.execute(sa.select(sa.func.pg_try_advisory_lock(self.key))).scalar_one()
            if not got:
                conn.close()
                return None
            mine = _new_info(self.connector, _utcnow())
            with self.engine.begin() as write:
                write.execute(sa.delete(sync_locks).where(sync_locks.c.connector == self.connector))
                write.execute(sa.insert(sync_locks).values(_values(mine)))
        except SQLAlchemyError as exc:
            if conn is not None:
                conn.invalidate()  # drops the session, and with it any advisory lock taken
                conn.close()
            raise _store_error("acquiring", self.connector, exc) from exc
        self.conn = conn
        self.info = mine
        return mine

    def current(self) -> LockInfo | None:
        return _current_holder(self.engine, self.connector)

    def still_held(self) -> bool:
        """True while the session holding the advisory lock is alive (the lock lives as long)."""
        if self.conn is None:
            return False
        try:
            self.conn.execute(sa.select(1))
        except SQLAlchemyError:
            return False
        return True

    def release(self) -> None:
        if self.conn is None or self.info is None:
            return
        try:
            with self.engine.begin() as write:
                write.execute(
                    sa.delete(sync_locks).where(
                        sync_locks.c.connector == self.connector,
                        sync_locks.c.holder == self.info.holder,
                    )
                )
            self.conn.execute(sa.select(sa.func.pg_advisory_unlock(self.key)))
            self.conn.close()
        except SQLAlchemyError as exc:
            log.warning(
                "could not release the sync lock of connector %s: %s",
                self.connector,
                db_reason(exc),
            )
            self.conn.invalidate()  # closing the session releases the advisory lock anyway
            self.conn.close()
        finally:
            self.conn = None
