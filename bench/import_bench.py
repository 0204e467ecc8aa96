"""Benchmark: import large Qualys WAS scan reports of several shapes into SQLite, twice each.

Shapes (each generated with a streamed writer into a temporary directory):

- `generated`: a CSV report of synthetic rows (multi-line request/response cells, two payload
  groups per row, a GLOSSARY of 300 QIDs after the RESULTS), 270 MB by default;
- `sample-csv`: the RESULTS rows of the real `was_scan_report_584455.csv` repeated with fresh
  `ID`s and `Detection ID`s (its glossary and appendix as they are), 200 MB by default;
- `sample-xml`: the records of the real `was_scan_report_many_vuln.xml` repeated with fresh ids,
  the flat `WAS_SCAN_REPORT` layout, 200 MB by default;
- `nested-xml`: the same in the nested (WAS API 3.13+) layout, `RESULTS/WEB_APPLICATION/...`.

Every shape is imported by `connector import` in a fresh child process, then imported again (the
same file: it must write nothing). Printed per import: wall time, MB/s, rows/s, the child's peak
RSS (VmHWM, which starts afresh at exec), and what the second import changed in the store.

    .venv/bin/python bench/import_bench.py                       # every shape, default sizes
    .venv/bin/python bench/import_bench.py --shape sample-csv --size-mb 50
    .venv/bin/python bench/import_bench.py --code-dir /tmp/old   # the same, with another checkout
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import random
import re
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

SAMPLES = Path(__file__).resolve().parents[2] / "shared" / "qualys" / "samples"
SHAPES = ("generated", "sample-csv", "sample-xml", "nested-xml")
DEFAULT_MB = {"generated": 270, "sample-csv": 200, "sample-xml": 200, "nested-xml": 200}

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


# --- shape: generated ----------------------------------------------------------------------------
def _text(rng: random.Random, lines: int) -> str:
    return "\n".join(
        "\t" * rng.randint(0, 3) + " ".join(rng.choices(WORDS, k=rng.randint(6, 14)))
        for _ in range(lines)
    )


def generate(path: Path, size_bytes: int, seed: int = 7) -> int:
    """Write a synthetic CSV report of about `size_bytes`; returns the number of result rows."""
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
                        str(50_000_000 + rows),
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


# --- shape: sample-csv ---------------------------------------------------------------------------
def generate_sample_csv(path: Path, size_bytes: int) -> int:
    """584455's results repeated with fresh ids until the file is about `size_bytes`."""
    with (SAMPLES / "was_scan_report_584455.csv").open(encoding="utf-8-sig", newline="") as fh:
        records = list(csv.reader(fh))
    start = records.index(["RESULTS"])
    end = records.index(["GLOSSARY"])
    results = records[start + 1 : end]
    headers = {r[0]: r for r in results if r[1] == "ID"}
    rows = {tag: [r for r in results if r[0] == tag and r[1] != "ID"] for tag in headers}
    one = io.StringIO()
    csv.writer(one, quoting=csv.QUOTE_ALL, lineterminator="\n").writerows(results)
    reps = max(1, size_bytes // len(one.getvalue().encode()))
    counts = {tag: len(r) * reps for tag, r in rows.items()}
    with path.open("w", encoding="utf-8", newline="") as fh:
        out = csv.writer(fh, quoting=csv.QUOTE_ALL, lineterminator="\n")
        for record in records[:start]:
            totals = [
                "High",
                str(counts.get("VULNERABILITY", 0)),
                "0",
                str(counts.get("INFORMATION_GATHERED", 0)),
            ]
            out.writerow(totals if record[:1] == ["High"] else record)  # the SUMMARY's totals
        out.writerow(["RESULTS"])
        serial = 0
        for tag, header in headers.items():
            out.writerow(header)
            for _ in range(reps):
                for row in rows[tag]:
                    serial += 1
                    out.writerow(
                        [row[0], str(200_000_000 + serial), str(3_000_000 + serial)] + row[3:]
                    )
        out.writerows(records[end:])
    return serial


# --- shapes: sample-xml, nested-xml -----------------------------------------------------------
_RECORD = re.compile(r"<(VULNERABILITY|INFORMATION_GATHERED|SENSITIVE_CONTENT)>.*?</\1>", re.DOTALL)


def generate_sample_xml(path: Path, size_bytes: int, *, nested: bool) -> int:
    """many_vuln.xml's records repeated with fresh ids (flat or nested layout)."""
    text = (SAMPLES / "reports" / "was_scan_report_many_vuln.xml").read_text(encoding="utf-8")
    head, rest = text.split("<RESULTS>", 1)
    body, tail = rest.split("</RESULTS>", 1)
    lists: dict[str, list[str]] = {}
    for match in _RECORD.finditer(body):
        lists.setdefault(match[1], []).append(match[0])
    reps = max(1, size_bytes // len(body.encode()))
    for kind, records in lists.items():
        head = re.sub(
            rf"(<GLOBAL_SUMMARY>.*?<{kind}>)\d+(</{kind}>)",
            rf"\g<1>{len(records) * reps}\g<2>",
            head,
            flags=re.DOTALL,
        )
    if nested:
        tail = tail.replace("<WEBAPP>", "<WEB_APPLICATION>").replace(
            "</WEBAPP>", "</WEB_APPLICATION>"
        )
    serial = 0
    with path.open("w", encoding="utf-8") as fh:
        fh.write(head + "<RESULTS>\n")
        if nested:
            fh.write("<WEB_APPLICATION><ID>57405567</ID><NAME>example eStore Server 1</NAME>\n")
        for kind, records in lists.items():
            fh.write(f"<{kind}_LIST>\n")
            for _ in range(reps):
                for record in records:
                    serial += 1
                    fresh = re.sub(
                        r"<ID>\d+</ID>", f"<ID>{200_000_000 + serial}</ID>", record, count=1
                    )
                    fresh = re.sub(
                        r"<DETECTION_ID>\d+</DETECTION_ID>",
                        f"<DETECTION_ID>{3_000_000 + serial}</DETECTION_ID>",
                        fresh,
                    )
                    fresh = re.sub(
                        r"<UNIQUE_ID>[^<]*</UNIQUE_ID>",
                        f"<UNIQUE_ID>bench-{serial:012d}</UNIQUE_ID>",
                        fresh,
                    )
                    fh.write(fresh + "\n")
            fh.write(f"</{kind}_LIST>\n")
        if nested:
            fh.write("</WEB_APPLICATION>\n")
        fh.write("</RESULTS>" + tail)
    return serial


GENERATORS: dict[str, Callable[[Path, int], int]] = {
    "generated": generate,
    "sample-csv": generate_sample_csv,
    "sample-xml": lambda p, n: generate_sample_xml(p, n, nested=False),
    "nested-xml": lambda p, n: generate_sample_xml(p, n, nested=True),
}
SUFFIX = {"generated": "csv", "sample-csv": "csv", "sample-xml": "xml", "nested-xml": "xml"}


# --- running one import in a child -----------------------------------------------------------
def _vmhwm_kb() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


def child(report: str) -> int:
    """In the child: run `connector import REPORT`, then print its figures as one JSON line."""
    code_dir = os.environ.get("BENCH_CODE_DIR")
    if code_dir:  # another checkout: ahead of the editable install's finder
        sys.meta_path[:] = [f for f in sys.meta_path if "editable" not in type(f).__name__.lower()]
        sys.path.insert(0, code_dir)
    from connector import cli

    main = cli.main

    out, err = io.StringIO(), io.StringIO()
    started = time.perf_counter()
    code = main(["import", report], environ=dict(os.environ), stdout=out, stderr=err)
    wall = time.perf_counter() - started
    usage = resource.getrusage(resource.RUSAGE_SELF)
    workers = resource.getrusage(resource.RUSAGE_CHILDREN)  # its reader process, once joined
    figures = {
        "code": code,
        "wall": wall,
        "cpu": usage.ru_utime + usage.ru_stime,  # the whole child, start-up included
        "worker_cpu": workers.ru_utime + workers.ru_stime,
        "peak_kb": _vmhwm_kb(),
        "code_from": cli.__file__,
    }
    print(out.getvalue() + err.getvalue(), file=sys.stderr)
    print(json.dumps(figures))
    return 0


def store_state(db: Path) -> dict[str, Any]:
    """What a second import must leave as it was: row counts and the latest write times."""
    import sqlite3

    con = sqlite3.connect(db)
    try:
        query = {
            "findings": "SELECT count(*), max(updated_at) FROM findings",
            "finding_events": "SELECT count(*), max(id) FROM finding_events",
            "assets": "SELECT count(*), max(last_seen_at) FROM assets",
            "weaknesses": "SELECT count(*), max(fetched_at) FROM weaknesses",
        }
        return {name: list(con.execute(sql).fetchone()) for name, sql in query.items()}
    finally:
        con.close()


def run_import(report: Path, tmp: Path, code_dir: str | None) -> dict[str, Any]:
    env = {
        **os.environ,
        "CONNECTOR_DATABASE_URL": f"sqlite:///{tmp}/bench.db",
        "QUALYS_USERNAME": "bench",
        "QUALYS_PASSWORD": "bench",
        "CONNECTOR_CONFIG": str(tmp / "config.toml"),
    }
    if code_dir:
        env["BENCH_CODE_DIR"] = code_dir
    (tmp / "config.toml").write_text("", encoding="utf-8")
    done = subprocess.run(
        [sys.executable, __file__, "--child", str(report)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        raise RuntimeError(f"the import child failed: {done.stderr[-3000:]}")
    figures: dict[str, Any] = json.loads(lines[-1])
    figures["output"] = done.stderr.strip()
    return figures


def bench_shape(shape: str, size_mb: int, code_dir: str | None, work: str | None) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(dir=work) as tmp_name:
        tmp = Path(tmp_name)
        report = tmp / f"report.{SUFFIX[shape]}"
        started = time.perf_counter()
        rows = GENERATORS[shape](report, size_mb * 1024 * 1024)
        size = report.stat().st_size
        print(f"\n== {shape}: {size / 1e6:.1f} MB, {rows} result rows "
              f"(generated in {time.perf_counter() - started:.1f} s)")  # fmt: skip
        first = run_import(report, tmp, code_dir)
        print(first["output"])
        print(f"code: {first['code_from']}")
        before = store_state(tmp / "bench.db")
        second = run_import(report, tmp, code_dir)
        after = store_state(tmp / "bench.db")
        changed = sorted(name for name in before if before[name] != after[name])
        result = {"shape": shape, "mb": size / 1e6, "rows": rows, "first": first, "second": second}
        for label, run in (("first import", first), ("re-import", second)):
            print(f"{label:13} exit {run['code']}  {run['wall']:6.1f} s  "
                  f"{size / 1e6 / run['wall']:6.1f} MB/s  {rows / run['wall']:8.0f} rows/s  "
                  f"CPU {run['cpu']:6.1f} s (+ worker {run.get('worker_cpu', 0):5.1f} s)  "
                  f"peak RSS {run['peak_kb'] / 1024:6.1f} MB")  # fmt: skip
        ratio = second["wall"] / first["wall"]
        print(f"re-import / first import: {ratio:.2f}; tables the re-import changed: "
              f"{', '.join(changed) or 'none'}")  # fmt: skip
        result["reimport_ratio"] = ratio
        result["reimport_changed"] = changed
        return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shape", choices=(*SHAPES, "all"), default="all")
    parser.add_argument("--size-mb", type=int, help="report size (default: per shape)")
    parser.add_argument("--dir", help="work directory (default: a temporary one, removed after)")
    parser.add_argument("--code-dir", help="import the connector from this directory instead")
    parser.add_argument("--json", help="also write the figures to this file")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(args.child)
    shapes = SHAPES if args.shape == "all" else (args.shape,)
    results = [
        bench_shape(s, args.size_mb or DEFAULT_MB[s], args.code_dir, args.dir) for s in shapes
    ]
    print(
        f"\nload average before: {os.getloadavg()[0]:.1f} (2 cores: above 2 the figures are slowed)"
    )
    print(
        "shape        MB     first s  MB/s   rows/s   CPU s   RSS MB  re-import s  ratio  changed"
    )
    for r in results:
        first, second = r["first"], r["second"]
        mbs, rows_s = r["mb"] / first["wall"], r["rows"] / first["wall"]
        print(f"{r['shape']:11} {r['mb']:6.1f} {first['wall']:8.1f} {mbs:6.1f} "
              f"{rows_s:8.0f} {first['cpu']:7.1f} {first['peak_kb'] / 1024:7.1f} "
              f"{second['wall']:10.1f} {r['reimport_ratio']:6.2f}  "
              f"{','.join(r['reimport_changed']) or 'none'}")  # fmt: skip
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2, default=str), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
