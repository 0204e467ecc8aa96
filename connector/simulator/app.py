"""The simulator as a WSGI application: routing, Basic auth, faults, delays and call counters."""

from __future__ import annotations

import base64
import binascii
import hmac
import re
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlencode

from connector.simulator.dataset import Dataset, KbEntry
from connector.simulator.faults import Fault, FaultCall, apply_fault, invalid_credentials
from connector.simulator.query import (
    FINDING_FIELDS,
    WEBAPP_FIELDS,
    FieldSpec,
    InvalidRequest,
    parse_service_request,
)
from connector.simulator.render import qualys_date, render_finding, render_kb_vuln, render_webapp
from connector.simulator.reply import TEXT_XML, Reply, xml_reply
from connector.simulator.xmlout import (
    KB_EPILOG,
    KB_PROLOG,
    cdata,
    service_error,
    service_response_open,
    simple_return,
)

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

QPS = "/qps/rest/3.0"
KB_PATH = "/api/2.0/fo/knowledge_base/vuln"
_GET_RE = re.compile(r"^/qps/rest/3\.0/get/was/(webapp|finding)/([^/]+)/?$")
_KB_PARAMS = frozenset(
    {
        "action",
        "details",
        "ids",
        "id_min",
        "id_max",
        "last_modified_after",
        "published_after",
        "show_disabled_flag",
        "echo_request",
    }
)
_KB_ID = re.compile(r"^(\d+)(?:-(\d+))?$")
_PORTAL_VERSIONS = (
    ("PortalApplication-VERSION", "3.11.0.0-3 SIMULATED"),
    ("QWEB__VM-VERSION", "2.11.0"),
    ("ITAM-VERSION", "2.9.0.0-1"),
    ("WAF-VERSION", "2.13.5.0"),
    ("QUESTIONNAIRE__V2-VERSION", "1.19.0.0"),
    ("WAS-VERSION", "1.1.0.0-2"),
    ("ICS-VERSION", "0.9.3.1-6"),
    ("WAF__V3-VERSION", "3.0.4.0"),
    ("CERTVIEW-VERSION", "2.8.5.0-26"),
    ("CLOUDVIEW-VERSION", "1.22.0.1-2"),
    ("MDS-VERSION", "2.19.2.0-98"),
    ("PS-VERSION", "1.4.2.0-1"),
    ("IOC-VERSION", "2.0.0-5"),
    ("OCA-VERSION", "1.7.1.1"),
    ("UD-VERSION", "1.6.0"),
    ("QWEB__PC-VERSION", "1.0.0-38"),
    ("CS-VERSION", "1.15.0-24"),
    ("CA-VERSION", "3.11.0.0"),
    ("SECURITY__ANALYTICS-VERSION", "1.0.4"),
    ("QGS-VERSION", "1.3.3.0-8"),
    ("QUESTIONNAIRE-VERSION", "2.31.0.0"),
    ("FIM-VERSION", "3.4.0.0-18"),
    ("CM-VERSION", "1.35.0.0"),
    ("PM-VERSION", "1.6.0.1-4"),
    ("THREAT__PROTECT-VERSION", "1.8.0"),
    ("AV2-VERSION", "0.1.0"),
    ("SEM-VERSION", "1.4.0-0"),
    ("SSC-VERSION", "1.6.0"),
    ("SM-VERSION", "1.1.0.0-52"),
)
_QWEB_VERSIONS = (
    ("WEB-VERSION", "10.18.2.0-2"),
    ("SCANNER-VERSION", "12.10.24-1"),
    ("VULNSIGS-VERSION", "2.5.484-3"),
)


class KbParameterError(Exception):
    """A KB request Qualys would refuse with HTTP 400 and a SIMPLE_RETURN `code`."""

    def __init__(self, code: int, text: str) -> None:
        super().__init__(text)
        self.code = code
        self.text = text


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


@dataclass
class SimulatorStats:
    """What the simulator observed, for tests and the benchmark; `reset_stats` starts afresh."""

    calls: Counter[str] = field(default_factory=Counter)
    """Calls per endpoint: webapp_search, webapp_count, webapp_get, finding_search, finding_count,
    finding_get, kb, version, unknown (auth failures and faulted calls included)."""
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
        kb_max_results: int | None = None,
        concurrency_limit: int | None = None,
        rate_limit: int = 300,
        rate_window_seconds: int = 3600,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        """`page_delay`: seconds of simulated server time per web app / finding search page.
        `kb_max_results`: when a KB call matches more entries, answer that many plus a WARNING
        whose URL fetches the rest. `concurrency_limit`: when set, a call arriving while that
        many are in flight gets 409/1960 (Qualys' concurrency rule). `rate_limit` and
        `rate_window_seconds` only feed the KB's X-RateLimit-* headers (not enforced)."""
        self.dataset = dataset
        self.username = username
        self._password = password
        self.page_delay = page_delay
        self.kb_max_results = kb_max_results
        self.concurrency_limit = concurrency_limit
        self.rate_limit = rate_limit
        self.rate_window_seconds = rate_window_seconds
        self.faults: list[Fault] = []
        self.stats = SimulatorStats()
        self._sleep = sleep
        self._clock = clock
        self._lock = threading.Lock()
        self._kb_times: deque[float] = deque()

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

    # ------------------------------------------------------------------ WSGI
    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        method = str(environ.get("REQUEST_METHOD", "GET")).upper()
        path = str(environ.get("PATH_INFO", "")) or "/"
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
        fault = self._fault_for(category)
        body = _read_body(environ)

        def normal() -> Reply:
            return self._dispatch(environ, method, path, endpoint, body, now)

        if fault is not None:
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
    ) -> Reply:
        if endpoint == "version":
            return xml_reply(200, _portal_version())
        if endpoint == "kb":
            return self._kb(environ, body, now)
        obj = "webapp" if endpoint.startswith("webapp") else "finding"
        if endpoint.endswith("_get"):
            match = _GET_RE.match(path)
            return self._get(obj, match.group(2) if match else "")
        fields = WEBAPP_FIELDS if obj == "webapp" else FINDING_FIELDS
        if method != "POST":
            return _qps_error(obj, "INVALID_REQUEST", f"{method} is not supported here.", "POST.")
        try:
            return self._search(obj, fields, body, count_only=endpoint.endswith("_count"))
        except InvalidRequest as exc:
            return _qps_error(obj, "INVALID_REQUEST", exc.message, exc.resolution)

    # ------------------------------------------------------------------ QPS
    def _search(
        self, obj: str, fields: dict[str, FieldSpec], body: bytes, count_only: bool
    ) -> Reply:
        request = parse_service_request(body, fields)
        data = self.dataset
        if count_only:
            if obj == "webapp":
                total = data.count_webapps(request.criteria)
            else:
                total = data.count_findings(request.criteria)
            text = (
                service_response_open(obj) + "  <responseCode>SUCCESS</responseCode>\n"
                f"  <count>{total}</count>\n</ServiceResponse>\n"
            )
            return xml_reply(200, text)
        if self.page_delay > 0:
            self._sleep(self.page_delay)
        skip = request.offset - 1
        items: list[str]
        # Records are immutable snapshots: render them outside the data set's lock.
        if obj == "webapp":
            apps, more = data.search_webapps(request.criteria, request.limit, skip)
            items = [render_webapp(w, request.verbose) for w in apps]
            last_id = apps[-1].id if apps else 0
        else:
            found, more = data.search_findings(request.criteria, request.limit, skip)
            items = [render_finding(f, request.verbose) for f in found]
            last_id = found[-1].id if found else 0
        head = service_response_open(obj) + "  <responseCode>SUCCESS</responseCode>\n"
        if not items and obj == "finding":
            return xml_reply(200, head + "  <count>0</count>\n</ServiceResponse>\n")
        parts = [head, f"  <count>{len(items)}</count>\n"]
        parts.append(f"  <hasMoreRecords>{'true' if more else 'false'}</hasMoreRecords>\n")
        if more:
            parts.append(f"  <lastId>{last_id}</lastId>\n")
        parts.append("  <data>\n")
        parts.extend(items)
        parts.append("  </data>\n</ServiceResponse>\n")
        return xml_reply(200, "".join(parts))

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
        text = (
            service_response_open(obj) + "  <responseCode>SUCCESS</responseCode>\n"
            "  <count>1</count>\n  <data>\n" + item + "  </data>\n</ServiceResponse>\n"
        )
        return xml_reply(200, text)

    # ------------------------------------------------------------------ KB
    def _kb(self, environ: WSGIEnvironment, body: bytes, now: str) -> Reply:
        if not environ.get("HTTP_X_REQUESTED_WITH"):
            return self._kb_headers(
                xml_reply(
                    400, simple_return(1903, "Missing required header: X-Requested-With", now)
                )
            )
        params = dict(parse_qsl(str(environ.get("QUERY_STRING", "")), keep_blank_values=True))
        params.update(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
        try:
            entries, rest_from = self._kb_select(params)
        except KbParameterError as exc:
            return self._kb_headers(xml_reply(400, simple_return(exc.code, exc.text, now)))
        details = params.get("details") or "Basic"
        with self._lock:
            self.stats.kb_qids_returned.append(tuple(e.qid for e in entries))
        parts = [
            KB_PROLOG,
            "<KNOWLEDGE_BASE_VULN_LIST_OUTPUT>\n  <RESPONSE>\n",
            f"    <DATETIME>{now}</DATETIME>\n",
            "<!-- keep-alive for KNOWLEDGE_BASE_VULN_LIST_OUTPUT  -->\n",
        ]
        if entries:
            parts.append("    <VULN_LIST>\n")
            parts.extend(render_kb_vuln(e, details) for e in entries)
            parts.append("    </VULN_LIST>\n")
        if rest_from is not None:
            query = {k: v for k, v in params.items() if k != "id_min"}
            query["id_min"] = str(rest_from)
            url = f"{_base_url(environ)}{KB_PATH}/?{urlencode(query)}"
            parts.append(
                "    <WARNING>\n      <CODE>1980</CODE>\n"
                f"      <TEXT>{self.kb_max_results} record limit exceeded. "
                "Use URL to get next batch of results.</TEXT>\n"
                f"      <URL>{cdata(url)}</URL>\n    </WARNING>\n"
            )
        parts.append("  </RESPONSE>\n</KNOWLEDGE_BASE_VULN_LIST_OUTPUT>\n")
        parts.append(KB_EPILOG)
        return self._kb_headers(xml_reply(200, "".join(parts), content_type=TEXT_XML))

    def _kb_select(self, params: dict[str, str]) -> tuple[list[KbEntry], int | None]:
        """The entries a KB call asks for, and the QID the continuation URL starts from."""
        unknown = sorted(set(params) - _KB_PARAMS)
        if unknown:
            raise KbParameterError(1901, f"Unrecognized parameter(s): {', '.join(unknown)}")
        if "action" not in params:
            raise KbParameterError(1903, "Missing required parameter(s): action")
        if params["action"] != "list":
            raise KbParameterError(1905, f"parameter action has invalid value: {params['action']}")
        if params.get("details", "Basic") not in ("All", "Basic", "None"):
            raise KbParameterError(
                1905, f"parameter details has invalid value: {params['details']}"
            )
        ranges = _kb_ids(params.get("ids"))
        id_min = _kb_int(params, "id_min")
        id_max = _kb_int(params, "id_max")
        modified = _kb_date(params, "last_modified_after")
        published = _kb_date(params, "published_after")
        entries = self.dataset.kb_entries(None, modified)
        entries = [
            e
            for e in entries
            if (ranges is None or any(lo <= e.qid <= hi for lo, hi in ranges))
            and (id_min is None or e.qid >= id_min)
            and (id_max is None or e.qid <= id_max)
            and (published is None or e.published >= published)
        ]
        limit = self.kb_max_results
        if limit is not None and len(entries) > limit:
            return entries[:limit], entries[limit].qid
        return entries, None

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

    def _fault_for(self, category: str) -> Fault | None:
        chosen = None
        with self._lock:
            for fault in self.faults:
                if fault.matches(category) and fault.observe() and chosen is None:
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


def _base_url(environ: WSGIEnvironment) -> str:
    host = environ.get("HTTP_HOST") or f"{environ.get('SERVER_NAME')}:{environ.get('SERVER_PORT')}"
    return f"{environ.get('wsgi.url_scheme', 'http')}://{host}"


def _qps_error(obj: str, code: str, message: str, resolution: str) -> Reply:
    return xml_reply(200, service_error(obj, code, message, resolution))


def _portal_version() -> str:
    portal = "".join(f"      <{k}>{v}</{k}>\n" for k, v in _PORTAL_VERSIONS)
    qweb = "".join(f"      <{k}>{v}</{k}>\n" for k, v in _QWEB_VERSIONS)
    return (
        service_response_open("version").replace("/3.0/was/version.xsd", "/version.xsd")
        + "  <responseCode>SUCCESS</responseCode>\n  <count>1</count>\n  <data>\n"
        f"    <Portal-Version>\n{portal}    </Portal-Version>\n"
        f"    <QWeb-Version>\n{qweb}    </QWeb-Version>\n  </data>\n</ServiceResponse>\n"
    )


def _kb_ids(text: str | None) -> list[tuple[int, int]] | None:
    if text is None or not text.strip():
        return None
    ranges = []
    for token in text.split(","):
        match = _KB_ID.match(token.strip())
        if match is None:
            raise KbParameterError(
                1905,
                f"parameter ids has invalid value: {token.strip()} "
                f"(neither a positive integer nor a range: {token.strip()})",
            )
        lo = int(match.group(1))
        ranges.append((lo, int(match.group(2) or lo)))
    return ranges


def _kb_int(params: dict[str, str], name: str) -> int | None:
    value = params.get(name)
    if value is None:
        return None
    if not value.strip().isdigit():
        raise KbParameterError(1905, f"parameter {name} has invalid value: {value}")
    return int(value)


def _kb_date(params: dict[str, str], name: str) -> datetime | None:
    value = params.get(name)
    if value is None:
        return None
    for fmt in ("%Y-%m-%dT%H:%M:%SZ", "%Y-%m-%d"):
        try:
            return datetime.strptime(value.strip(), fmt).replace(tzinfo=UTC)
        except ValueError:
            continue
    raise KbParameterError(1905, f"parameter {name} has invalid value: {value}")
