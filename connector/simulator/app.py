"""The simulator as a WSGI application: routing, Basic auth, faults, server costs and counters.

Server cost model (simulated time, slept through the injected `sleep`; all in seconds):
a search page costs `page_delay` plus, per record on it, `verbose_record_delay` or
`brief_record_delay`; a count costs `count_delay` (default: `page_delay`, a page without
records); a get costs `page_delay + verbose_record_delay`. The KB is not charged.
`SimulatorStats` counts calls, bytes and records served and the seconds charged.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import re
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

from connector.simulator.control import CONTROL_PREFIX, answer_control
from connector.simulator.dataset import Dataset
from connector.simulator.faults import (
    LISTING_FAULTS,
    Fault,
    FaultCall,
    FaultKind,
    apply_fault,
    invalid_credentials,
)
from connector.simulator.kb import KB_PATH, KbParameterError, render_kb, select_kb
from connector.simulator.listing import Page, bend_page, listing_key, render_page
from connector.simulator.portal import portal_version
from connector.simulator.query import (
    FINDING_FIELDS,
    WEBAPP_FIELDS,
    InvalidRequest,
    SearchRequest,
    parse_service_request,
)
from connector.simulator.render import qualys_date, render_finding, render_webapp
from connector.simulator.reply import TEXT_XML, Reply, xml_reply
from connector.simulator.stats import SimulatorStats
from connector.simulator.xmlout import service_error, service_response_open, simple_return

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

__all__ = ["Simulator", "SimulatorStats"]

QPS = "/qps/rest/3.0"
_GET_RE = re.compile(r"^/qps/rest/3\.0/get/was/(webapp|finding)/([^/]+)/?$")
_REMEMBERED_LISTINGS = 32

ENDPOINT_CATEGORY = {
    "webapp_search": "webapp",
    "webapp_get": "webapp",
    "webapp_count": "count",
    "finding_search": "finding",
    "finding_get": "finding",
    "finding_count": "count",
    "kb": "kb",
    "version": "version",
    "unknown": "unknown",
}


class Simulator:
    """A Qualys WAS v3.0 + KB API server over a `Dataset`, as a WSGI callable.

    Use in process with `httpx.Client(transport=httpx.WSGITransport(app=sim))`, or behind a socket
    with `connector.simulator.server.serve_in_thread(sim)`.
    """

    def __init__(
        self,
        dataset: Dataset,
        *,
        username: str = "sim",
        password: str = "sim",  # noqa: S107 - the documented simulator login
        page_delay: float = 0.0,
        verbose_record_delay: float = 0.0,
        brief_record_delay: float = 0.0,
        count_delay: float | None = None,
        hidden_webapps: Iterable[int] = (),
        updated_date_filter: bool = True,
        kb_max_results: int | None = None,
        concurrency_limit: int | None = None,
        rate_limit: int = 300,
        rate_window_seconds: int = 3600,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        """`page_delay`, `verbose_record_delay`, `brief_record_delay`, `count_delay`: the
        server cost model (module docstring). `hidden_webapps`: web app ids left out of web app
        searches and counts while their findings stay listed (a listing that misses web apps).
        `updated_date_filter=False` refuses `updatedDate` as a finding filter (INVALID_REQUEST),
        as a Qualys that does not support it would (it is not documented as one).
        `kb_max_results`: when a KB call matches more entries, answer that many plus a WARNING
        whose URL fetches the rest. `concurrency_limit`: when set, a call arriving while that
        many are in flight gets 409/1960 (Qualys' concurrency rule). `rate_limit` and
        `rate_window_seconds` only feed the KB's X-RateLimit-* headers (not enforced)."""
        for name, value in (
            ("page_delay", page_delay),
            ("verbose_record_delay", verbose_record_delay),
            ("brief_record_delay", brief_record_delay),
            ("count_delay", count_delay or 0.0),
        ):
            if not value >= 0.0:  # also refuses nan
                raise ValueError(f"{name} must be a number of seconds >= 0, got {value!r}")
        self.dataset = dataset
        self.username = username
        self._password = password
        self.page_delay = page_delay
        self.verbose_record_delay = verbose_record_delay
        self.brief_record_delay = brief_record_delay
        self.count_delay = count_delay
        self.hidden_webapps: set[int] = set(hidden_webapps)
        """Web app ids the web app listing leaves out; change it at any time."""
        self.kb_max_results = kb_max_results
        self.concurrency_limit = concurrency_limit
        self.rate_limit = rate_limit
        self.rate_window_seconds = rate_window_seconds
        self.faults: list[Fault] = []
        self.stats = SimulatorStats()
        self._finding_fields = (
            FINDING_FIELDS
            if updated_date_filter
            else {k: v for k, v in FINDING_FIELDS.items() if k != "updatedDate"}
        )
        self._sleep = sleep
        self._clock = clock
        self._lock = threading.Lock()
        self._kb_times: deque[float] = deque()
        self._previous_pages: dict[tuple[object, ...], Page] = {}

    # ------------------------------------------------------------------ test controls
    def add_fault(self, fault: Fault) -> Fault:
        """Install a fault rule; its `on_call` counts matching calls from now on."""
        with self._lock:
            self.faults.append(fault)
        return fault

    def clear_faults(self) -> None:
        with self._lock:
            self.faults.clear()

    def reset_stats(self) -> None:
        with self._lock:
            in_flight = self.stats.in_flight
            self.stats = SimulatorStats(in_flight=in_flight, max_in_flight=in_flight)

    def stats_snapshot(self) -> dict[str, Any]:
        """`stats.as_dict()`, taken consistently while calls go on."""
        with self._lock:
            return self.stats.as_dict()

    def now(self) -> datetime:
        """The simulator's clock (the DATETIME of its answers)."""
        return self._clock()

    # ------------------------------------------------------------------ WSGI
    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        method = str(environ.get("REQUEST_METHOD", "GET")).upper()
        path = str(environ.get("PATH_INFO", "")) or "/"
        if path.startswith(CONTROL_PREFIX):
            reply = self._control(environ, method, path)
            start_response(reply.status_line(), reply.header_list())
            return reply.chunks()
        endpoint = _endpoint(method, path)
        category = ENDPOINT_CATEGORY[endpoint]
        with self._lock:
            self.stats.calls[endpoint] += 1
            self.stats.in_flight += 1
            running = self.stats.in_flight
            self.stats.max_in_flight = max(self.stats.max_in_flight, running)
        try:
            reply = self._answer(environ, method, path, endpoint, category, running)
        finally:
            with self._lock:
                self.stats.in_flight -= 1
        sent = len(reply.body) if reply.break_after is None else reply.break_after
        with self._lock:
            self.stats.bytes_served[endpoint] += sent
        start_response(reply.status_line(), reply.header_list())
        return reply.chunks()

    def _answer(
        self,
        environ: WSGIEnvironment,
        method: str,
        path: str,
        endpoint: str,
        category: str,
        running: int,
    ) -> Reply:
        now = qualys_date(self._clock())
        if endpoint == "unknown":
            return Reply(404, b"Not Found\n", content_type="text/plain")
        if not self._authorized(environ):
            with self._lock:
                self.stats.auth_failures += 1
            return invalid_credentials(category, now)
        if self.concurrency_limit is not None and running > self.concurrency_limit:
            return self._concurrency_refusal(now, running)
        fault = self._fault_for(category, endpoint)
        body = _read_body(environ)
        listing = None
        if fault is not None and fault.kind in LISTING_FAULTS:
            listing = FaultKind(fault.kind)

        def normal() -> Reply:
            return self._dispatch(environ, method, path, endpoint, body, now, listing)

        if fault is not None and listing is None:
            return apply_fault(fault, FaultCall(category, now, normal, self._sleep))
        return normal()

    def _dispatch(
        self,
        environ: WSGIEnvironment,
        method: str,
        path: str,
        endpoint: str,
        body: bytes,
        now: str,
        listing_fault: FaultKind | None = None,
    ) -> Reply:
        if endpoint == "version":
            return xml_reply(200, portal_version())
        if endpoint == "kb":
            return self._kb(environ, body, now)
        return self._qps(method, path, endpoint, body, listing_fault)

    # ------------------------------------------------------------------ QPS
    def _qps(
        self, method: str, path: str, endpoint: str, body: bytes, listing_fault: FaultKind | None
    ) -> Reply:
        obj = "webapp" if endpoint.startswith("webapp") else "finding"
        if endpoint.endswith("_get"):
            match = _GET_RE.match(path)
            return self._get(obj, match.group(2) if match else "")
        if method != "POST":
            return _qps_error(obj, "INVALID_REQUEST", f"{method} is not supported here.", "POST.")
        fields = WEBAPP_FIELDS if obj == "webapp" else self._finding_fields
        try:
            request = parse_service_request(body, fields)
            if endpoint.endswith("_count"):
                return self._count(obj, request)
            return self._search(obj, request, listing_fault)
        except InvalidRequest as exc:
            return _qps_error(obj, "INVALID_REQUEST", exc.message, exc.resolution)

    def _count(self, obj: str, request: SearchRequest) -> Reply:
        if obj == "webapp":
            total = self.dataset.count_webapps(request.criteria, self.hidden_webapps)
        else:
            total = self.dataset.count_findings(request.criteria)
        self._charge(self.page_delay if self.count_delay is None else self.count_delay)
        text = (
            service_response_open(obj) + "  <responseCode>SUCCESS</responseCode>\n"
            f"  <count>{total}</count>\n</ServiceResponse>\n"
        )
        return xml_reply(200, text)

    def _search(self, obj: str, request: SearchRequest, listing_fault: FaultKind | None) -> Reply:
        data, skip, verbose = self.dataset, request.offset - 1, request.verbose
        # Records are immutable snapshots: render them outside the data set's lock.
        if obj == "webapp":
            apps, more = data.search_webapps(
                request.criteria, request.limit, skip, self.hidden_webapps
            )
            items = tuple(render_webapp(w, verbose) for w in apps)
            last_id = apps[-1].id if apps else 0
        else:
            found, more = data.search_findings(request.criteria, request.limit, skip, verbose)
            items = tuple(render_finding(f, verbose) for f in found)
            last_id = found[-1].id if found else 0
        page = Page(obj=obj, items=items, more=more, last_id=last_id, verbose=verbose)
        key = listing_key(obj, request)
        with self._lock:
            previous = self._previous_pages.get(key)
        if listing_fault is not None:
            page = bend_page(listing_fault, page, previous, request)
        with self._lock:
            if len(self._previous_pages) >= _REMEMBERED_LISTINGS:
                self._previous_pages.clear()
            self._previous_pages[key] = page
            kind = f"{obj}_{'verbose' if verbose else 'brief'}"
            self.stats.records_served[kind] += len(page.items)
        per_record = self.verbose_record_delay if verbose else self.brief_record_delay
        self._charge(self.page_delay + per_record * len(page.items))
        return xml_reply(200, render_page(page))

    def _get(self, obj: str, raw_id: str) -> Reply:
        try:
            object_id = int(raw_id)
        except ValueError:
            return _qps_error(
                obj, "INVALID_REQUEST", f"Invalid id ({raw_id}).", "Specify the id as Long."
            )
        if obj == "webapp":
            app = self.dataset.webapp(object_id)
            item = render_webapp(app, verbose=True) if app else None
        else:
            finding = self.dataset.finding(object_id)
            item = render_finding(finding, verbose=True) if finding else None
        if item is None:
            name = "WebApp" if obj == "webapp" else "Finding"
            return _qps_error(
                obj, "NOT_FOUND", f"{name} with id {object_id} not found.", "Check the id."
            )
        with self._lock:
            self.stats.records_served[f"{obj}_verbose"] += 1
        self._charge(self.page_delay + self.verbose_record_delay)
        text = (
            service_response_open(obj) + "  <responseCode>SUCCESS</responseCode>\n"
            "  <count>1</count>\n  <data>\n" + item + "  </data>\n</ServiceResponse>\n"
        )
        return xml_reply(200, text)

    def _charge(self, seconds: float) -> None:
        """Spend simulated server time (outside every lock, so calls overlap)."""
        if seconds <= 0:
            return
        with self._lock:
            self.stats.server_seconds += seconds
        self._sleep(seconds)

    # ------------------------------------------------------------------ KB
    def _kb(self, environ: WSGIEnvironment, body: bytes, now: str) -> Reply:
        if not environ.get("HTTP_X_REQUESTED_WITH"):
            return self._kb_headers(
                xml_reply(
                    400, simple_return(1903, "Missing required header: X-Requested-With", now)
                )
            )
        params = _params(environ, body)
        try:
            entries, rest_from = select_kb(self.dataset, params, self.kb_max_results)
        except KbParameterError as exc:
            return self._kb_headers(xml_reply(400, simple_return(exc.code, exc.text, now)))
        with self._lock:
            self.stats.kb_qids_returned.append(tuple(e.qid for e in entries))
        text = render_kb(entries, params, now, rest_from, _base_url(environ), self.kb_max_results)
        return self._kb_headers(xml_reply(200, text, content_type=TEXT_XML))

    def _kb_headers(self, reply: Reply) -> Reply:
        with self._lock:
            now = time.monotonic()
            self._kb_times.append(now)
            while self._kb_times and self._kb_times[0] < now - self.rate_window_seconds:
                self._kb_times.popleft()
            remaining = max(0, self.rate_limit - len(self._kb_times))
            running = self.stats.in_flight
        reply.headers += [
            ("X-RateLimit-Limit", str(self.rate_limit)),
            ("X-RateLimit-Window-Sec", str(self.rate_window_seconds)),
            ("X-RateLimit-Remaining", str(remaining)),
            ("X-RateLimit-ToWait-Sec", "0"),
            ("X-Concurrency-Limit-Limit", str(self.concurrency_limit or 2)),
            ("X-Concurrency-Limit-Running", str(running)),
        ]
        return reply

    # ------------------------------------------------------------------ helpers
    def _control(self, environ: WSGIEnvironment, method: str, path: str) -> Reply:
        if not self._authorized(environ):
            return Reply(401, b"simulator control needs the simulator's login\n", "text/plain")
        return answer_control(self, method, path, _params(environ, _read_body(environ)))

    def _authorized(self, environ: WSGIEnvironment) -> bool:
        header = str(environ.get("HTTP_AUTHORIZATION", ""))
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            user, _, password = base64.b64decode(token.strip()).decode("utf-8").partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return False
        return hmac.compare_digest(user.encode(), self.username.encode()) and hmac.compare_digest(
            password.encode(), self._password.encode()
        )

    def _fault_for(self, category: str, endpoint: str) -> Fault | None:
        chosen = None
        with self._lock:
            for fault in self.faults:
                if fault.matches(category, endpoint) and fault.observe() and chosen is None:
                    chosen = fault
            if chosen is not None:
                self.stats.faults_fired += 1
        return chosen

    def _concurrency_refusal(self, now: str, running: int) -> Reply:
        reply = xml_reply(
            409,
            simple_return(
                1960,
                f"This API cannot be run again until {running - (self.concurrency_limit or 0)} "
                "currently running API instance has finished.",
                now,
                (("CALLS_TO_FINISH", str(running - (self.concurrency_limit or 0))),),
            ),
        )
        reply.headers += [
            ("X-Concurrency-Limit-Limit", str(self.concurrency_limit)),
            ("X-Concurrency-Limit-Running", str(running)),
        ]
        return reply


def _endpoint(method: str, path: str) -> str:
    p = path.rstrip("/")
    for verb in ("search", "count"):
        for obj in ("webapp", "finding"):
            if p == f"{QPS}/{verb}/was/{obj}":
                return f"{obj}_{verb}"
    match = _GET_RE.match(path)
    if match:
        return f"{match.group(1)}_get"
    if p == "/qps/rest/portal/version":
        return "version"
    if p == KB_PATH and method in ("GET", "POST"):
        return "kb"
    return "unknown"


def _read_body(environ: WSGIEnvironment) -> bytes:
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    stream: Any = environ.get("wsgi.input")
    return bytes(stream.read(length)) if stream is not None and length > 0 else b""


def _params(environ: WSGIEnvironment, body: bytes) -> dict[str, str]:
    """Query string and form body parameters (the body's win)."""
    params = dict(parse_qsl(str(environ.get("QUERY_STRING", "")), keep_blank_values=True))
    params.update(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
    return params


def _base_url(environ: WSGIEnvironment) -> str:
    host = environ.get("HTTP_HOST") or f"{environ.get('SERVER_NAME')}:{environ.get('SERVER_PORT')}"
    return f"{environ.get('wsgi.url_scheme', 'http')}://{host}"


def _qps_error(obj: str, code: str, message: str, resolution: str) -> Reply:
    return xml_reply(200, service_error(obj, code, message, resolution))
