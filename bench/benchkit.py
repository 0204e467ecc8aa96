"""What the benchmarks share: the simulator in its own process, databases to sync into, a
recording transport and the bare-HTTP replay of what it recorded, and peak memory of a child."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa

from connector.config import Config, Secret, SyncSettings, config_for_tests
from connector.store.database import create_engine_for, ensure_schema

ROOT = Path(__file__).resolve().parent.parent
USERNAME, PASSWORD = "bench", "bench-password"
PG_ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# --- the simulator, in its own process (its rendering must not share our GIL) ----------------
@dataclass
class Sim:
    url: str
    process: subprocess.Popen[bytes]

    def control(self, path: str, **params: Any) -> dict[str, Any]:
        """A /_simulator/ control call (stats, stats/reset, day)."""
        method = "GET" if path == "stats" else "POST"
        answer = httpx.request(
            method,
            f"{self.url}/_simulator/{path}",
            params=params,
            auth=(USERNAME, PASSWORD),
            timeout=600,
        )
        answer.raise_for_status()
        result: dict[str, Any] = answer.json()
        return result


@contextmanager
def simulator(findings: int, webapps: int, **costs_ms: float) -> Iterator[Sim]:
    """`connector simulate` on a free loopback port; costs as `--<name>-ms` options."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    args = [sys.executable, "-m", "connector", "simulate", "--port", str(port)]
    args += ["--findings", str(findings), "--webapps", str(webapps), "--seed", "1"]
    args += ["--username", USERNAME, "--password", PASSWORD]
    for name, value in costs_ms.items():
        args += [f"--{name.replace('_', '-')}-ms", str(value)]
    process = subprocess.Popen(args, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    sim = Sim(f"http://127.0.0.1:{port}", process)
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                sim.control("stats")
                break
            except httpx.HTTPError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("the simulator did not start") from None
                time.sleep(0.1)
        yield sim
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


def bench_config(url: str, database_url: str, *, concurrency: int = 1) -> Config:
    return config_for_tests(
        qualys={
            "api_url": url,
            "username": USERNAME,
            "password": Secret(PASSWORD),
            "page_size": 1000,
            "concurrency": concurrency,
        },
        database_url=database_url,
        # The simulated tenant's dates are old: keep its assets out of retention.
        sync=SyncSettings(asset_retention_days=36500),
    )


# --- databases --------------------------------------------------------------------------------
@contextmanager
def database(kind: str) -> Iterator[sa.Engine]:
    """A migrated, empty database: a temporary SQLite file, or a fresh PostgreSQL database."""
    if kind == "sqlite":
        with tempfile.TemporaryDirectory() as folder:
            engine = create_engine_for(f"sqlite:///{folder}/bench.db")
            ensure_schema(engine)
            try:
                yield engine
            finally:
                engine.dispose()
        return
    name = f"bench_{os.getpid()}_{time.monotonic_ns()}"
    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    engine = create_engine_for(sa.make_url(PG_ADMIN_URL).set(database=name).render_as_string(False))
    try:
        ensure_schema(engine)
        yield engine
    finally:
        engine.dispose()
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


def copy_sqlite(engine: sa.Engine, folder: Path, name: str) -> sa.Engine:
    """A copy of a SQLite store (checkpointed first), as a new engine."""
    with engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    target = folder / name
    target.write_bytes(Path(str(engine.url.database)).read_bytes())
    return create_engine_for(f"sqlite:///{target}")


# --- the floor: what the sync asked for, downloaded by bare httpx one request at a time -------
@dataclass
class Recording(httpx.BaseTransport):
    """A transport that records every request it sends (method, URL, headers, body)."""

    inner: httpx.BaseTransport = field(default_factory=lambda: httpx.HTTPTransport())
    requests: list[tuple[str, str, list[tuple[bytes, bytes]], bytes]] = field(default_factory=list)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(
            (request.method, str(request.url), list(request.headers.raw), request.read())
        )
        return self.inner.handle_request(request)

    def close(self) -> None:
        self.inner.close()


def replay(requests: list[tuple[str, str, list[tuple[bytes, bytes]], bytes]]) -> float:
    """Seconds to send the requests one after another and read every answer: the floor."""
    with httpx.Client(timeout=600) as http:
        started = time.perf_counter()
        for method, url, headers, body in requests:
            http.request(method, url, headers=headers, content=body).read()
        return time.perf_counter() - started


# --- peak memory of a child process -----------------------------------------------------------
def peak_rss_mb(args: list[str]) -> tuple[float, dict[str, Any]]:
    """Run `python bench/<args>` as a child; its peak RSS (VmHWM, with its children) and the JSON
    it printed last. ru_maxrss is not used: Linux carries a parent's high-water mark into a
    child across fork and exec."""
    process = subprocess.Popen(
        [sys.executable, *args], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    peak = 0
    while process.poll() is None:
        peak = max(peak, _tree_rss_kb(process.pid))
        time.sleep(0.02)
    out, err = process.communicate()
    if process.returncode != 0:
        raise RuntimeError(f"child failed: {err.decode(errors='replace')[-2000:]}")
    figures = json.loads(out.decode().strip().splitlines()[-1])
    return max(peak, figures.get("vmhwm_kb", 0)) / 1024, figures


def vmhwm_kb() -> int:
    return _status_kb("self", "VmHWM")


def _status_kb(pid: int | str, name: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(name + ":"):
                return int(line.split()[1])
    except OSError:
        return 0
    return 0


def _tree_rss_kb(pid: int) -> int:
    total = _status_kb(pid, "VmRSS")
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            children = (task / "children").read_text().split()
        except OSError:
            continue
        total += sum(_tree_rss_kb(int(child)) for child in children)
    return total
