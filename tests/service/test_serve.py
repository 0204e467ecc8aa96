"""`connector serve` in a real subprocess: endpoints live, SIGTERM mid-sync exits 0 promptly."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

PASSWORD = "Serve-Pa55/word"

# Runs the real `connector serve --now` with the sync replaced by a slow fake; the fake honours
# the stop event like the real sync does (ends after its page) unless told to ignore it.
SCRIPT = """
import logging, sys, time
from connector import cli
from connector.commands import serve as serve_cmd
from connector.errors import SyncInterruptedError

def slow_sync(config, engine, metrics, stop):
    log = logging.getLogger("fake.sync")
    log.info("fake sync running as %s:%s", config.qualys.username, config.qualys.password.reveal())
    if sys.argv[1] == "stubborn":
        time.sleep(60)
    while not stop.wait(0.05):
        pass
    raise SyncInterruptedError("fake sync stopped after its page")

serve_cmd.sync_once = slow_sync
sys.exit(cli.main(["serve", "--now"]))
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Served:
    def __init__(self, tmp_path: Path, mode: str) -> None:
        self.port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith(("CONNECTOR_", "QUALYS_"))}
        env.update(
            QUALYS_USERNAME="alice",
            QUALYS_PASSWORD=PASSWORD,
            CONNECTOR_QUALYS_API_URL="http://127.0.0.1:9",
            CONNECTOR_DATABASE_URL=f"sqlite:///{tmp_path / 'data' / 'connector.db'}",
            CONNECTOR_SERVICE_LISTEN=f"127.0.0.1:{self.port}",
            CONNECTOR_SERVICE_LOG_FORMAT="json",
        )
        self.proc = subprocess.Popen(
            [sys.executable, "-c", SCRIPT, mode],
            cwd=tmp_path,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: list[str] = []
        self.running = threading.Event()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.lines.append(line)
            if "fake sync running" in line:
                self.running.set()

    def get(self, path: str) -> tuple[int, bytes]:
        url = f"http://127.0.0.1:{self.port}{path}"
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as exc:
            with exc:
                return exc.code, exc.read()

    def finish(self, timeout: float) -> int:
        code = self.proc.wait(timeout)
        self._reader.join(5)
        for pipe in (self.proc.stdout, self.proc.stderr):
            if pipe is not None:
                pipe.close()
        return code

    @property
    def output(self) -> str:
        return "".join(self.lines)

    def messages(self) -> list[str]:
        return [json.loads(line)["message"] for line in self.lines if line.startswith("{")]


@pytest.fixture
def served(tmp_path: Path) -> Iterator[list[Served]]:
    started: list[Served] = []
    yield started
    for item in started:
        if item.proc.poll() is None:
            item.proc.kill()
            item.finish(10)


def start(served: list[Served], tmp_path: Path, mode: str) -> Served:
    item = Served(tmp_path, mode)
    served.append(item)
    if not item.running.wait(20):
        item.proc.kill()
        item.finish(10)
        pytest.fail(f"serve did not start a sync:\n{item.output}")
    return item


def test_sigterm_mid_sync_exits_0_after_the_page(served: list[Served], tmp_path: Path) -> None:
    """SIGTERM while a sync runs: the sync stops after its page, the process exits 0 and says so."""
    item = start(served, tmp_path, "polite")
    health, _ = item.get("/healthz")
    ready, _ = item.get("/readyz")
    metrics_status, metrics = item.get("/metrics")
    assert (health, ready, metrics_status) == (200, 200, 200)
    assert b"qualys_was_sync_running 1.0" in metrics

    began = time.monotonic()
    item.proc.send_signal(signal.SIGTERM)
    assert item.finish(15) == 0
    assert time.monotonic() - began < 10
    messages = item.messages()
    assert any(m.startswith("received SIGTERM: shutting down") for m in messages)
    assert any(m.startswith("sync interrupted") for m in messages)
    assert messages[-1] == "stopped"
    assert PASSWORD not in item.output


def test_second_signal_stops_waiting_for_a_stuck_sync(served: list[Served], tmp_path: Path) -> None:
    """A sync that ignores the stop: a second signal ends the process at once, still exit 0."""
    item = start(served, tmp_path, "stubborn")
    item.proc.send_signal(signal.SIGTERM)
    time.sleep(0.5)
    began = time.monotonic()
    item.proc.send_signal(signal.SIGINT)
    assert item.finish(15) == 0
    assert time.monotonic() - began < 5
    messages = item.messages()
    assert "second signal received: not waiting for the running sync" in messages
    assert "exiting without waiting for the running sync any longer" in messages
    assert PASSWORD not in item.output
