"""One finding's record, derived from the columns and a hash of `(seed, position)`, on demand."""

from __future__ import annotations

import base64
import hashlib
import struct
from datetime import timedelta
from typing import Any

from connector.simulator.columns import EPOCH, FindingColumns, decode_date
from connector.simulator.records import (
    FINDING_TYPES,
    IGNORED_REASONS,
    INFORMATION_GATHERED,
    STATUSES,
    VULNERABILITY,
    FindingRecord,
    HistoryScan,
    QidProfile,
    WebAppRecord,
)
from connector.simulator.vocabulary import IGNORED_COMMENTS, PARAMS, PATHS

_DRAWS = struct.Struct("<20I")
_SCALE = 1 / 4294967296.0
EPOCH_SECONDS = int(EPOCH.timestamp())
_RESPONSES = tuple(
    base64.b64encode(
        f"HTTP/1.1 200 OK\r\nServer: nginx\r\n\r\n<html>{'x' * n}</html>".encode()
    ).decode()
    for n in range(40, 161)
)
"""The evidence a non-informational finding carries (base64 of a small HTTP response)."""


def _uuid4(digest: bytes) -> str:
    """A version 4 UUID's text from the first 16 bytes of `digest`."""
    raw = bytearray(digest[:16])
    raw[6] = (raw[6] & 0x0F) | 0x40
    raw[8] = (raw[8] & 0x3F) | 0x80
    h = raw.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def generate_record(
    seed: int,
    i: int,
    cols: FindingColumns,
    app: WebAppRecord,
    profile: QidProfile,
    brief: bool = False,
    overrides: dict[str, Any] | None = None,
) -> FindingRecord:
    """Finding `i` as generated: columns for the coded fields and dates, draws for the rest.

    The draws come from one hash of `(seed, i)` (seeding a `random.Random` per finding would
    cost more than everything else a finding needs): 16 bytes of uniqueId and 20 numbers, each
    with a fixed use whatever the columns say, so a mutation of one column never changes another
    generated field. Only `history` (spread between first detection and last test) and
    `timesDetected` (1 while NEW) read the columns; the data set pins both before it changes a
    finding. `brief` leaves out what only a verbose page shows (history and payload, empty);
    `overrides` replace generated fields (a mutated finding's pinned history, say)."""
    digest = hashlib.shake_128(b"%d:%d" % (seed, i)).digest(96)
    u = [v * _SCALE for v in _DRAWS.unpack_from(digest, 16)]
    kind = cols.types[i]
    status = STATUSES[cols.statuses[i]]
    ignored_reason = IGNORED_REASONS[cols.ignored[i]]
    dates = cols.dates
    first_cell = dates["first_detected"][i]
    tested_cell = dates["last_tested"][i]
    first, last_tested = decode_date(first_cell), decode_date(tested_cell)
    last_detected = decode_date(dates["last_detected"][i])
    updated = decode_date(dates["updated_date"][i])
    assert first is not None
    assert last_detected is not None
    assert last_tested is not None
    assert updated is not None
    history: tuple[HistoryScan, ...] = ()
    if u[0] < 0.85 and not brief and not (overrides and "history" in overrides):
        span = max(0, tested_cell - first_cell)
        cells = [first_cell - 60 - int(u[1] * 1741)]
        cells += sorted((first_cell + int(u[2] * span), first_cell + int(u[3] * span)))[
            : int(u[4] * 3)
        ]
        history = tuple(
            HistoryScan(
                scan_id=3_000_000 + int(u[5 + k] * 1_000_000),
                reference=f"was/{(cell + EPOCH_SECONDS) * 1000}.{10_000 + int(u[8 + k] * 90_000)}",
                launched=EPOCH + timedelta(seconds=cell),
            )
            for k, cell in enumerate(cells)
        )
    informational = kind == INFORMATION_GATHERED
    base_url = app.url.rstrip("/")
    filler = int(u[11] * len(_RESPONSES))
    if brief:
        payload = ""
    elif informational:
        payload = f"Detected on {base_url}/ during the crawl.\n{profile.name}: {filler % 99 + 1}"
    else:
        payload = _RESPONSES[filler]
    values: dict[str, Any] = {
        "id": cols.ids[i],
        "unique_id": _uuid4(digest),
        "qid": profile.qid,
        "name": profile.name,
        "type": FINDING_TYPES[kind],
        "severity": profile.severity,
        "potential": (not informational) and u[12] < 0.05,
        "url": None if informational else base_url + PATHS[int(u[13] * len(PATHS))],
        "param": PARAMS[int(u[15] * len(PARAMS))]
        if kind == VULNERABILITY and u[14] < 0.6
        else None,
        "status": status,
        "is_ignored": None if informational else ignored_reason is not None,
        "ignored_reason": ignored_reason,
        "ignored_date": decode_date(dates["ignored_date"][i]) if ignored_reason else None,
        "ignored_comment": IGNORED_COMMENTS[int(u[16] * len(IGNORED_COMMENTS))]
        if ignored_reason
        else None,
        "cvss": profile.cvss if u[17] < 0.85 else None,
        "cwe": profile.cwe,
        "owasp": profile.owasp,
        "wasc": profile.wasc,
        "first_detected": first,
        "last_detected": last_detected,
        "last_tested": last_tested,
        "times_detected": None
        if informational
        else (1 if status == "NEW" else 2 + int(u[18] * 39)),
        "fixed_date": decode_date(dates["fixed_date"][i]),
        "updated_date": updated,
        "history": history,
        "webapp_id": app.id,
        "webapp_name": app.name,
        "webapp_url": app.url,
        "payload": payload,
    }
    if overrides:
        values.update(overrides)
    return FindingRecord(**values)
