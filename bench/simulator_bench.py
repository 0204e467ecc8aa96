"""Benchmark: how fast the simulator itself answers, so it never becomes the bottleneck it measures.

Builds a tenant of N findings in process and calls the WSGI application directly (no socket, no
client-side parsing, no simulated delays), printing the best of R runs for each kind of call an
incremental sync makes: a verbose and a brief page of 1,000, the count, a page of `id IN` 1,000
ids, date-filtered pages (the first one builds the column's sorted index), a keyset page inside
a date window, and the time a `simulate_day` of 5 % takes. The target: every page of 1,000 at
250,000 findings well under 50 ms.

    .venv/bin/python bench/simulator_bench.py                  # N=250,000
    .venv/bin/python bench/simulator_bench.py --findings 50000 --repeat 5
"""

from __future__ import annotations

import argparse
import base64
import io
import time
from collections.abc import Callable
from datetime import timedelta

from connector.simulator import NOW, Dataset, Simulator

SEARCH = "/qps/rest/3.0/search/was/finding"
COUNT = "/qps/rest/3.0/count/was/finding"


def body(criteria: list[tuple[str, str, str]], verbose: bool, limit: int = 1000) -> bytes:
    crit = "".join(f'<Criteria field="{f}" operator="{o}">{v}</Criteria>' for f, o, v in criteria)
    return (
        f"<ServiceRequest><preferences><verbose>{str(verbose).lower()}</verbose>"
        f"<limitResults>{limit}</limitResults></preferences><filters>{crit}</filters>"
        "</ServiceRequest>"
    ).encode()


def caller(sim: Simulator) -> Callable[[str, bytes], bytes]:
    auth = "Basic " + base64.b64encode(b"sim:sim").decode()

    def call(path: str, content: bytes) -> bytes:
        environ = {
            "REQUEST_METHOD": "POST",
            "PATH_INFO": path,
            "CONTENT_LENGTH": str(len(content)),
            "wsgi.input": io.BytesIO(content),
            "HTTP_AUTHORIZATION": auth,
        }
        answer = b"".join(sim(environ, lambda status, headers: None))  # type: ignore[arg-type]
        assert b"<responseCode>SUCCESS</responseCode>" in answer, answer[:300]
        return answer

    return call


def best_ms(run: Callable[[], object], repeat: int) -> float:
    """The best CPU time of `repeat` runs (CPU, not wall: other processes on the machine do not
    inflate it, and the simulator answers on one thread)."""
    best = float("inf")
    for _ in range(repeat):
        started = time.process_time()
        run()
        best = min(best, time.process_time() - started)
    return best * 1000


def qualys(value: object) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")  # type: ignore[attr-defined,no-any-return]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--findings", type=int, default=250_000)
    parser.add_argument("--webapps", type=int, default=500)
    parser.add_argument("--repeat", type=int, default=10, help="runs per figure; best is shown")
    opts = parser.parse_args()

    started = time.process_time()
    data = Dataset.generate(webapps=opts.webapps, findings=opts.findings, seed=9)
    built = time.process_time() - started
    cols = data.columns
    arrays = [cols.ids, cols.wa, cols.qids, cols.types, cols.statuses, cols.ignored]
    held = sum(a.itemsize * len(a) for a in [*arrays, *cols.dates.values()]) / 1e6
    call = caller(Simulator(data))
    ids = data.finding_ids()
    middle = ("id", "GREATER", str(ids[len(ids) // 2]))
    batch = ",".join(map(str, ids[:: max(1, len(ids) // 1000)][:1000]))
    figures: list[tuple[str, float]] = [
        ("verbose page of 1000", best_ms(lambda: call(SEARCH, body([middle], True)), opts.repeat)),
        ("brief page of 1000", best_ms(lambda: call(SEARCH, body([middle], False)), opts.repeat)),
        ("count, no filter", best_ms(lambda: call(COUNT, body([], False)), 1)),
        (
            "verbose page, id IN 1000 ids",
            best_ms(lambda: call(SEARCH, body([("id", "IN", batch)], True)), opts.repeat),
        ),
    ]
    day_started = time.process_time()
    changes = data.simulate_day(1, NOW + timedelta(days=1), share=0.05)
    day_ms = (time.process_time() - day_started) * 1000
    since = ("lastTestedDate", "GREATER", qualys(NOW))
    first_date = best_ms(lambda: call(SEARCH, body([since], False)), 1)
    figures += [
        ("brief page, lastTestedDate GREATER (first: index build)", first_date),
        (
            "brief page, lastTestedDate GREATER",
            best_ms(lambda: call(SEARCH, body([since], False)), opts.repeat),
        ),
        (
            "verbose page, updatedDate GREATER + id GREATER",
            best_ms(
                lambda: call(SEARCH, body([("updatedDate", "GREATER", qualys(NOW)), middle], True)),
                opts.repeat,
            ),
        ),
        ("count, lastTestedDate GREATER", best_ms(lambda: call(COUNT, body([since], False)), 1)),
        (f"simulate_day 5 % ({len(changes.changed) + len(changes.gone)} findings)", day_ms),
    ]
    print(f"Simulator at {opts.findings:,} findings over {opts.webapps} web apps (CPU time)")
    print(f"  {'data set built':<58} {built * 1000:9.1f} ms  (columns: {held:.1f} MB)")
    for name, ms in figures:
        print(f"  {name:<58} {ms:9.1f} ms")


if __name__ == "__main__":
    main()
