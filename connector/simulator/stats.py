"""What the simulator counts: calls, bytes and records served, and the server time it charged."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any


@dataclass
class SimulatorStats:
    """What the simulator observed, for tests and the benchmark; `reset_stats` starts afresh."""

    calls: Counter[str] = field(default_factory=Counter)
    """Calls per endpoint: webapp_search, webapp_count, webapp_get, finding_search, finding_count,
    finding_get, kb, version, unknown (auth failures and faulted calls included; the
    simulator's own /_simulator/ control calls are not counted)."""
    bytes_served: Counter[str] = field(default_factory=Counter)
    """Response body bytes sent per endpoint (a connection reset counts what was sent)."""
    records_served: Counter[str] = field(default_factory=Counter)
    """Records in search and get answers: finding_verbose, finding_brief, webapp_verbose,
    webapp_brief."""
    server_seconds: float = 0.0
    """Simulated server time charged (page, record and count delays; not fault `slow` sleeps)."""
    in_flight: int = 0
    max_in_flight: int = 0
    """The most calls that were being answered at the same time."""
    auth_failures: int = 0
    faults_fired: int = 0
    kb_qids_returned: list[tuple[int, ...]] = field(default_factory=list)
    """The QIDs each successful KB call returned, in call order."""

    @property
    def total_calls(self) -> int:
        return sum(self.calls.values())

    @property
    def total_bytes(self) -> int:
        return sum(self.bytes_served.values())

    @property
    def verbose_records(self) -> int:
        return sum(n for k, n in self.records_served.items() if k.endswith("_verbose"))

    @property
    def brief_records(self) -> int:
        return sum(n for k, n in self.records_served.items() if k.endswith("_brief"))

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready copy (what GET /_simulator/stats answers)."""
        return {
            "calls": dict(self.calls),
            "total_calls": self.total_calls,
            "bytes_served": dict(self.bytes_served),
            "total_bytes": self.total_bytes,
            "records_served": dict(self.records_served),
            "verbose_records": self.verbose_records,
            "brief_records": self.brief_records,
            "server_seconds": round(self.server_seconds, 6),
            "max_in_flight": self.max_in_flight,
            "auth_failures": self.auth_failures,
            "faults_fired": self.faults_fired,
            "kb_calls_answered": len(self.kb_qids_returned),
            "kb_qids_returned": sum(len(q) for q in self.kb_qids_returned),
        }
