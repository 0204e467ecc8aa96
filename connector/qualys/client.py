"""QualysClient: the WAS v3.0 and KB calls this connector makes, safe to share between threads.

Every call goes through one path: send (httpx) -> decode (XML) -> classify (the table) -> the retry
policy. No httpx exception escapes: each becomes a QualysError whose message names the URL (never
credentials), what Qualys said, and what to do.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field, replace
from datetime import datetime
from types import TracebackType
from typing import Any, TypeVar
from urllib.parse import parse_qsl

import httpx

from connector.config import QualysSettings
from connector.errors import (
    QualysRequestError,
    QualysResponseError,
    QualysUnreachableError,
)
from connector.qualys.classify import OutcomeKind, classify
from connector.qualys.decode import (
    MalformedXmlError,
    UnsafeXmlError,
    as_list,
    decode,
)
from connector.qualys.failures import failure_for
from connector.qualys.limiter import ConcurrencyLimiter
from connector.qualys.pages import (
    RECORD_TAG,
    Page,
    RawPage,
    WasObject,
    decode_page,
    quick_success,
    read_int,
    service_response,
)
from connector.qualys.paging import KeysetPager
from connector.qualys.requests import Criterion, qualys_datetime, service_request
from connector.qualys.retry import RetryPolicy, TransientError
from connector.qualys.session import (
    build_http_client,
    explain_network_error,
    safe_url,
)
from connector.qualys.stats import CallStats

log = logging.getLogger(__name__)

PORTAL_VERSION_PATH = "/qps/rest/portal/version"
KB_PATH = "/api/2.0/fo/knowledge_base/vuln/"
KB_DETAILS = ("Basic", "All", "None")
KB_MAX_BATCH = 300
KB_MAX_CONTINUATIONS = 1000  # WARNING/URL hops per batch before we call it a loop

_T = TypeVar("_T")


@dataclass(frozen=True)
class KbResult:
    vulns: list[dict[str, Any]] = field(default_factory=list)
    unknown: set[int] = field(default_factory=set)  # asked for, not in the KB
    calls: int = 0  # KB requests made (batches plus WARNING/URL continuations)


class QualysClient:
    """The Qualys adapter. One instance per process is fine; it is thread-safe."""

    def __init__(
        self,
        settings: QualysSettings,
        *,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.settings = settings
        self.stats = CallStats()
        self.base_url = safe_url(settings.api_url)
        self._http = build_http_client(settings, transport=transport)
        self._kb_limiter = ConcurrencyLimiter(1)
        self._policy = RetryPolicy.from_settings(
            settings, sleep=sleep, on_retry=lambda _e, _n, _w: self.stats.record_retry()
        )

    # --- lifecycle ---
    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> QualysClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    @property
    def kb_concurrency_limit(self) -> int:
        """How many KB calls may run at once (from X-Concurrency-Limit-Limit; 1 until seen)."""
        return self._kb_limiter.limit

    # --- WAS ---
    def portal_version(self) -> dict[str, Any]:
        """GET /qps/rest/portal/version: a cheap authenticated call. Returns the `data` element."""
        doc = self._call("GET", PORTAL_VERSION_PATH, endpoint="portal/version")
        data = service_response(doc, PORTAL_VERSION_PATH).get("data")
        return data if isinstance(data, dict) else {}

    def count_webapps(self, criteria: Sequence[Criterion] = ()) -> int:
        return self._count("webapp", criteria)

    def count_findings(self, criteria: Sequence[Criterion] = ()) -> int:
        return self._count("finding", criteria)

    def iter_webapp_pages(
        self,
        criteria: Sequence[Criterion] = (),
        *,
        verbose: bool = True,
        page_size: int | None = None,
    ) -> Iterator[Page]:
        return self._iter_pages("webapp", criteria, verbose=verbose, page_size=page_size)

    def iter_finding_pages(
        self,
        criteria: Sequence[Criterion] = (),
        *,
        verbose: bool = True,
        page_size: int | None = None,
    ) -> Iterator[Page]:
        return self._iter_pages("finding", criteria, verbose=verbose, page_size=page_size)

    def iter_finding_raw_pages(
        self,
        criteria: Sequence[Criterion] = (),
        *,
        verbose: bool = True,
        page_size: int | None = None,
    ) -> Iterator[RawPage]:
        """Like iter_finding_pages, but each page is handed over as soon as its paging is read,
        before its records are decoded (`decode_page`): the next request goes out while the
        caller decodes. Errors are classified, retried and raised exactly as for the decoded
        pages."""
        return self._iter_raw_pages("finding", criteria, verbose=verbose, page_size=page_size)

    def _count(self, kind: WasObject, criteria: Sequence[Criterion]) -> int:
        path = f"/qps/rest/3.0/count/was/{kind}"
        doc = self._was_post(path, service_request(criteria), endpoint=f"count/was/{kind}")
        response = service_response(doc, path)
        return read_int(response.get("count"), what=f"count in {path}")

    def _iter_pages(
        self,
        kind: WasObject,
        criteria: Sequence[Criterion],
        *,
        verbose: bool,
        page_size: int | None,
    ) -> Iterator[Page]:
        for raw in self._iter_raw_pages(kind, criteria, verbose=verbose, page_size=page_size):
            yield decode_page(raw)

    def _iter_raw_pages(
        self,
        kind: WasObject,
        criteria: Sequence[Criterion],
        *,
        verbose: bool,
        page_size: int | None,
    ) -> Iterator[RawPage]:
        pager = KeysetPager(criteria, what=f"{RECORD_TAG[kind]} records")
        while not pager.done:
            raw = self.search_page(kind, pager.criteria(), verbose=verbose, page_size=page_size)
            pager.advance(has_more=raw.has_more, last_id=raw.last_id)
            yield replace(raw, number=pager.pages)

    def search_page(
        self,
        kind: WasObject,
        criteria: Sequence[Criterion],
        *,
        verbose: bool,
        page_size: int | None = None,
    ) -> RawPage:
        """One WAS search request: its paging read, its records left for `decode_page`.

        The caller pages (keyset: `id GREATER lastId`); errors are classified and retried like
        every call."""
        size = self.settings.page_size if page_size is None else page_size
        if not 1 <= size <= 1000:
            raise QualysRequestError(f"page size {size} is out of range 1..1000")
        path = f"/qps/rest/3.0/search/was/{kind}"
        body = service_request(criteria, verbose=verbose, limit_results=size)
        answer = self._call(
            "POST",
            path,
            endpoint=f"search/was/{kind}",
            content=body,
            headers={"Content-Type": "text/xml"},
            quick=quick_success,
        )
        if isinstance(answer, tuple):  # a SUCCESS page read cheaply: decode it later
            head, raw_body = answer
            return RawPage(kind, path, head.has_more, head.last_id, 0, body=raw_body)
        response = service_response(answer, path)
        has_more = str(response.get("hasMoreRecords", "false")).strip().lower() == "true"
        last_id = (
            read_int(response["lastId"], what=f"lastId in {path}")
            if response.get("lastId") is not None
            else None
        )
        return RawPage(kind, path, has_more, last_id, 0, doc=answer)

    def _was_post(self, path: str, body: bytes, *, endpoint: str) -> dict[str, Any]:
        return self._call(
            "POST", path, endpoint=endpoint, content=body, headers={"Content-Type": "text/xml"}
        )

    # --- Knowledge Base ---
    def kb_lookup(self, qids: Sequence[int], *, details: str = "All") -> KbResult:
        """The KB entries for `qids`, in batches of settings.kb_batch_size (at most 300).

        Follows WARNING/URL continuations; QIDs the KB does not know end up in `unknown`.
        """
        if details not in KB_DETAILS:
            raise QualysRequestError(f"KB details must be one of {', '.join(KB_DETAILS)}")
        wanted = _unique_qids(qids)
        found: dict[int, dict[str, Any]] = {}
        calls = 0
        for batch in self._kb_batches(wanted):
            vulns, n = self._kb_list(
                {"action": "list", "details": details, "ids": ",".join(map(str, batch))}
            )
            calls += n
            for vuln in vulns:
                qid = _qid(vuln)
                if qid is not None:
                    found[qid] = vuln
        unknown = set(wanted) - set(found)
        return KbResult(vulns=list(found.values()), unknown=unknown, calls=calls)

    def kb_changed_since(self, qids: Sequence[int], since: datetime) -> list[dict[str, Any]]:
        """KB entries among `qids` modified after `since` (last_modified_after), same batching."""
        found: dict[int, dict[str, Any]] = {}
        for batch in self._kb_batches(_unique_qids(qids)):
            vulns, _ = self._kb_list(
                {
                    "action": "list",
                    "details": "All",
                    "ids": ",".join(map(str, batch)),
                    "last_modified_after": qualys_datetime(since),
                }
            )
            for vuln in vulns:
                qid = _qid(vuln)
                if qid is not None:
                    found[qid] = vuln
        return list(found.values())

    def _kb_batches(self, qids: list[int]) -> Iterator[list[int]]:
        size = max(1, min(self.settings.kb_batch_size, KB_MAX_BATCH))
        for start in range(0, len(qids), size):
            yield qids[start : start + size]

    def _kb_list(self, params: Mapping[str, str]) -> tuple[list[dict[str, Any]], int]:
        """One KB list request plus its WARNING/URL continuations: (VULN dicts, calls made)."""
        vulns: list[dict[str, Any]] = []
        seen: set[str] = set()
        target: str = KB_PATH
        form = dict(params)
        calls = 0
        while True:
            doc = self._call("POST", target, endpoint="kb/vuln", data=form, kb=True)
            calls += 1
            root = doc.get("KNOWLEDGE_BASE_VULN_LIST_OUTPUT")
            if not isinstance(root, dict):
                raise QualysResponseError(
                    f"Qualys answered {self.base_url}{KB_PATH} with <{next(iter(doc), '?')}> "
                    "instead of a KB vulnerability list"
                )
            response = root.get("RESPONSE")
            if not isinstance(response, dict):
                response = {}
            vuln_list = response.get("VULN_LIST")
            if isinstance(vuln_list, dict):
                vulns.extend(v for v in as_list(vuln_list.get("VULN")) if isinstance(v, dict))
            next_url = _warning_url(response.get("WARNING"))
            if next_url is None:
                return vulns, calls
            target, form = self._continuation(next_url, seen)

    def _continuation(self, url: str, seen: set[str]) -> tuple[str, dict[str, str]]:
        """Validate a WARNING/URL: same host as the API server (credentials go there), no loop."""
        parsed = httpx.URL(url)
        api = httpx.URL(self.settings.api_url)
        if parsed.host and (parsed.host, parsed.scheme) != (api.host, api.scheme):
            raise QualysResponseError(
                f"Qualys KB WARNING/URL points at {safe_url(url)}, not at {self.base_url}: "
                "refusing to send credentials elsewhere"
            )
        if url in seen or len(seen) >= KB_MAX_CONTINUATIONS:
            raise QualysResponseError(
                f"loop detected in KB pagination: WARNING/URL {safe_url(url)} repeats"
            )
        seen.add(url)
        form = dict(parse_qsl(parsed.query.decode("ascii"), keep_blank_values=True))
        return parsed.path, form

    # --- the one request path ---
    def _call(
        self,
        method: str,
        path: str,
        *,
        endpoint: str,
        content: bytes | None = None,
        data: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        kb: bool = False,
        quick: Callable[[httpx.Response], _T | None] | None = None,
    ) -> dict[str, Any] | _T:
        """Send, decode, classify, retry. `quick` may accept a response before the full decode
        (a SUCCESS search page whose paging it read cheaply); when it returns None the answer
        takes the full path, so every failure is classified and retried exactly alike."""
        url = f"{self.base_url}{path}"
        what = f"{method} {url}"

        def attempt() -> dict[str, Any] | _T:
            self.stats.record_call(endpoint)
            response = self._send(method, path, content=content, data=data, headers=headers, kb=kb)
            accepted = None if quick is None else quick(response)
            if accepted is not None:
                return accepted
            doc = self._decode(response, url)
            body = response.content if doc is None else b""  # HTML: a login page?
            outcome = classify(response.status_code, response.headers, doc, body)
            if outcome.kind is OutcomeKind.SUCCESS and doc is not None:
                return doc
            self.stats.record_error(str(outcome.kind))
            raise failure_for(outcome, method, url, self.settings, self.base_url)

        return self._policy.call(attempt, what=what)

    def _send(
        self,
        method: str,
        path: str,
        *,
        content: bytes | None,
        data: Mapping[str, str] | None,
        headers: Mapping[str, str] | None,
        kb: bool,
    ) -> httpx.Response:
        slot: AbstractContextManager[None] = self._kb_limiter.slot() if kb else nullcontext()
        try:
            with slot:
                response = self._http.request(
                    method, path, content=content, data=data, headers=headers
                )
        except httpx.HTTPError as exc:
            self.stats.record_error("network")
            transient, reason = explain_network_error(exc, self.settings)
            if transient:
                raise TransientError(reason, kind="network") from exc
            raise QualysUnreachableError(
                f"{method} {self.base_url}{path} failed: {reason}"
            ) from exc
        except httpx.InvalidURL as exc:
            raise QualysRequestError(f"invalid Qualys URL {self.base_url}{path}: {exc}") from exc
        if kb:
            self._learn_kb_limit(response.headers)
        return response

    def _decode(self, response: httpx.Response, url: str) -> dict[str, Any] | None:
        """The XML document, or None when the body is HTML or not usable XML."""
        if "html" in response.headers.get("content-type", "").lower():
            return None
        try:
            return decode(response.content, source=f"the answer from {url}")
        except MalformedXmlError:
            return None
        except UnsafeXmlError:
            self.stats.record_error("unsafe")
            raise

    def _learn_kb_limit(self, headers: httpx.Headers) -> None:
        text = headers.get("x-concurrency-limit-limit")
        if text and text.strip().isdigit() and int(text) != self._kb_limiter.limit:
            log.info("Qualys allows %s concurrent KB calls", text.strip())
            self._kb_limiter.set_limit(int(text))


def _qid(vuln: Mapping[str, Any]) -> int | None:
    try:
        return int(str(vuln.get("QID")).strip())
    except ValueError:
        return None


def _unique_qids(qids: Sequence[int]) -> list[int]:
    result = sorted({int(q) for q in qids})
    bad = [q for q in result if q <= 0]
    if bad:
        raise QualysRequestError(f"QIDs must be positive integers, got {bad[:5]}")
    return result


def _warning_url(warning: Any) -> str | None:
    for item in as_list(warning):
        if isinstance(item, dict):
            url = item.get("URL")
            if isinstance(url, dict):
                url = url.get("#text")
            if isinstance(url, str) and url.strip():
                return url.strip()
    return None
