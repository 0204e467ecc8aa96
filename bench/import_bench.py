"""Benchmark: import a generated Qualys WAS CSV scan report of a given size into SQLite.

Generates the report with a streamed writer (RESULTS rows with multi-line request/response
cells and two payload groups, a GLOSSARY of a few hundred QIDs after them, an APPENDIX naming
the web app), then runs `connector import` on it in a child process and prints the file size,
wall time, throughput and the child's peak RSS.

    .venv/bin/python bench/import_bench.py --size-mb 100
    .venv/bin/python bench/import_bench.py            # 1024 MB
"""

from __future__ import annotations

import argparse
import csv
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

QIDS = 300
VULN_HEADER = [
    "VULNERABILITY", "ID", "Unique ID", "Detection ID", "QID", "Url", "Param", "Function",
    "Form Entry Point", "Access Path", "Authentication", "Ajax Request", "Ajax Request ID",
    "Ignored", "Ignore Reason", "Ignore Date", "Ignore User", "Ignore Comments", "Port",
    "Detection Date",
    "Payload #1", "Request Method #1", "Request URL #1", "Request Headers #1", "Response #1",
    "Evidence #1",
    "Payload #2", "Request Method #2", "Request URL #2", "Request Headers #2", "Response #2",
    "Evidence #2",
]  # fmt: skip
IG_HEADER = ["INFORMATION_GATHERED", "ID", "Detection ID", "QID", "Results", "Detection Date"]
GLOSSARY_HEADER = [
    "QID", "Id", "Title", "Category", "Severity Level", "Groups", "OWASP", "WASC", "CWE",
    "CVSS Base", "CVSS Temporal", "CVSS V3 Base", "Description", "Impact", "Solution",
]  # fmt: skip
WORDS = (
    "div class post title href content request server cookie session token header "
    "script input value form action method response length type charset"
).split()


def _text(rng: random.Random, lines: int) -> str:
    return "\n".join(
        "\t" * rng.randint(0, 3) + " ".join(rng.choices(WORDS, k=rng.randint(6, 14)))
        for _ in range(lines)
    )


def generate(path: Path, size_bytes: int, seed: int = 7) -> int:
    """Write a report of about `size_bytes`; returns the number of result rows."""
    rng = random.Random(seed)
    qids = [150000 + i for i in range(QIDS)]
    rows = 0
    with path.open("w", encoding="utf-8", newline="") as fh:
        out = csv.writer(fh, quoting=csv.QUOTE_ALL, lineterminator="\n")
        out.writerows(
            [
                ["Scan Report", "25 Apr 2019 10:42AM GMT"],
                ["Bench Co.", "Barcelona", "", "", "08001", "Spain"],
                ["DESCRIPTION"],
                ["Generated for the import benchmark"],
                ["RESULTS"],
                VULN_HEADER,
            ]
        )
        ig_rows: list[list[str]] = []
        while fh.tell() < size_bytes:
            rows += 1
            qid = rng.choice(qids)
            url = f"http://app.example.com/page{rng.randint(1, 5000)}.php?id={rows}"
            row = [
                "VULNERABILITY", str(10_000_000 + rows), f"uid-{rows:012d}", str(rows), str(qid),
                url, "id", "", "", "", "Not Required", "No", "", "No", "", "", "", "",
                rng.choice(["80", "443", "8080"]), "24 Apr 2019 01:41AM GMT",
            ]  # fmt: skip
            for _ in range(2):
                row += [
                    f"id=%3Cscript%3E{rng.randint(0, 10**9)}",
                    rng.choice(["GET", "POST"]),
                    url,
                    "Referer: http://app.example.com/\nCookie: PHPSESSID=abc123;\n",
                    _text(rng, rng.randint(10, 30)),
                    _text(rng, 1),
                ]
            out.writerow(row)
            if rows % 20 == 0 and len(ig_rows) < 5000:
                ig_rows.append(
                    [
                        "INFORMATION_GATHERED",
                        str(90_000_000 + rows),
                        str(rows),
                        str(rng.choice(qids)),
                        _text(rng, 5),
                        "24 Apr 2019 01:41AM GMT",
                    ]  # fmt: skip
                )
        out.writerow(IG_HEADER)
        out.writerows(ig_rows)
        rows += len(ig_rows)
        out.writerow(["GLOSSARY"])
        out.writerow(GLOSSARY_HEADER)
        for qid in qids:
            out.writerow(
                [
                    "QID",
                    str(qid),
                    f"Generated weakness {qid}",
                    "Confirmed Vulnerability",
                    str(rng.randint(1, 5)),
                    "XSS",
                    "A7",
                    "WASC-8",
                    "CWE-79",
                    "4.3",
                    "3.9",
                    rng.choice(["", "", "6.1", "9.8"]),
                    _text(rng, 8),
                    _text(rng, 3),
                    _text(rng, 4),
                ]  # fmt: skip
            )
        out.writerows(
            [
                ["APPENDIX"],
                ["Scan Name", "Reference", "Start Date", "End Date"],
                ["Bench scan", "was/1", "24 Apr 2019 01:41AM GMT", "24 Apr 2019 02:47AM GMT"],
                ["Web Application Name", "URL", "Owner", "Scope", "Operating System"],
                ["Bench App", "http://app.example.com/", "bench", "Limit to URL hostname", ""],
            ]
        )
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=int, default=1024, help="report size (default 1024)")
    parser.add_argument("--dir", help="work directory (default: a temporary one, removed after)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        report = Path(tmp) / "report.csv"
        started = time.perf_counter()
        rows = generate(report, args.size_mb * 1024 * 1024)
        size = report.stat().st_size
        print(f"generated {size / 1e6:.1f} MB, {rows} result rows in "
              f"{time.perf_counter() - started:.1f} s")  # fmt: skip
        env = {
            **os.environ,
            "CONNECTOR_DATABASE_URL": f"sqlite:///{tmp}/bench.db",
            "QUALYS_USERNAME": "bench",
            "QUALYS_PASSWORD": "bench",
            "CONNECTOR_CONFIG": str(Path(tmp) / "config.toml"),
        }
        (Path(tmp) / "config.toml").write_text("", encoding="utf-8")
        started = time.perf_counter()
        child = subprocess.run(
            [sys.executable, "-m", "connector", "import", str(report)],
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        wall = time.perf_counter() - started
        peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        print(child.stdout.rstrip())
        if child.returncode != 0:
            print(child.stderr.rstrip(), file=sys.stderr)
            return child.returncode
        db_size = (Path(tmp) / "bench.db").stat().st_size
        print(f"file size:     {size / 1e6:.1f} MB")
        print(f"wall time:     {wall:.1f} s")
        print(f"throughput:    {size / 1e6 / wall:.1f} MB/s")
        # Linux carries a parent's high-water mark into its children, so the child's figure is
        # only its own when it exceeds this process's (the generator's) own peak.
        own_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        print(f"peak RSS:      {peak_kb / 1024:.1f} MB (child process; this generator: "
              f"{own_kb / 1024:.1f} MB)")  # fmt: skip
        print(f"database size: {db_size / 1e6:.1f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
