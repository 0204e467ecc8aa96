"""Benchmark: the health server while clients hold connections open without sending anything.

Opens N idle connections to a HealthServer (default 2,000), then times probes of /healthz while
they are held, and how long the server takes to close them (its read timeout). Prints figures;
asserts nothing.

    .venv/bin/python bench/health_bench.py
    .venv/bin/python bench/health_bench.py --connections 500 --read-timeout 2
"""

from __future__ import annotations

import argparse
import resource
import socket
import statistics
import time
import urllib.request

from connector.service.health import HealthServer
from connector.service.metrics import ServiceMetrics


def probe(port: int) -> float:
    started = time.perf_counter()
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=30) as reply:
        reply.read()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--connections", type=int, default=2000)
    parser.add_argument("--read-timeout", type=float, default=5.0)
    parser.add_argument("--probes", type=int, default=20)
    args = parser.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, 3 * args.connections)), hard))
    server = HealthServer(
        "127.0.0.1", 0, metrics=ServiceMetrics(), readiness=lambda: None,
        read_timeout=args.read_timeout,
    )  # fmt: skip
    server.start()
    idle = [probe(server.port) for _ in range(args.probes)]
    started = time.perf_counter()
    held = [socket.create_connection(("127.0.0.1", server.port)) for _ in range(args.connections)]
    opened = time.perf_counter() - started
    busy = [probe(server.port) for _ in range(args.probes)]
    started = time.perf_counter()
    for sock in held:
        sock.settimeout(args.read_timeout + 30)
        sock.recv(1)  # b"" once the server closes it
    closed = time.perf_counter() - started
    for sock in held:
        sock.close()
    server.stop()
    print(f"held connections:            {args.connections} (opened in {opened:.2f} s)")
    print(f"probe /healthz, none held:   median {statistics.median(idle) * 1000:.1f} ms")
    print(
        f"probe /healthz, all held:    median {statistics.median(busy) * 1000:.1f} ms, "
        f"max {max(busy) * 1000:.1f} ms"
    )
    print(f"all closed by the server in: {closed:.2f} s (read timeout {args.read_timeout} s)")


if __name__ == "__main__":
    main()
