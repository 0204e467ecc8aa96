"""Thread-safe counters of what one QualysClient did (for run reports and metrics)."""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any


class CallStats:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._api_calls = 0
        self._retries = 0
        self._errors: Counter[str] = Counter()
        self._by_endpoint: Counter[str] = Counter()

    def record_call(self, endpoint: str) -> None:
        with self._lock:
            self._api_calls += 1
            self._by_endpoint[endpoint] += 1

    def record_retry(self) -> None:
        with self._lock:
            self._retries += 1

    def record_error(self, kind: str) -> None:
        with self._lock:
            self._errors[kind] += 1

    @property
    def api_calls(self) -> int:
        """HTTP requests sent, retries included."""
        with self._lock:
            return self._api_calls

    @property
    def retries(self) -> int:
        with self._lock:
            return self._retries

    @property
    def errors_by_kind(self) -> dict[str, int]:
        """Failed attempts by kind: retry, bad_response, network, auth, request_error, unsafe."""
        with self._lock:
            return dict(self._errors)

    @property
    def calls_by_endpoint(self) -> dict[str, int]:
        """HTTP requests by endpoint label (search/was/finding, kb/vuln, portal/version, ...)."""
        with self._lock:
            return dict(self._by_endpoint)

    def snapshot(self) -> dict[str, Any]:
        """All counters at one instant, as plain data."""
        with self._lock:
            return {
                "api_calls": self._api_calls,
                "retries": self._retries,
                "errors_by_kind": dict(self._errors),
                "calls_by_endpoint": dict(self._by_endpoint),
            }
