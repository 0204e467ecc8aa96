"""QualysClient against an offline Qualys built from the real recorded samples."""

from __future__ import annotations

import base64
import re
import socket
import ssl
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import parse_qs

import httpx
import pytest

from connector.errors import (
    ConfigError,
    QualysAuthError,
    QualysRequestError,
    QualysResponseError,
    QualysUnreachableError,
)
from connector.qualys import Criterion, QualysClient
from connector.qualys.decode import decode
from qualys.fakes import API, PASSWORD, FakeQualys, sample, settings, xml

VERSION = "/qps/rest/portal/version"
SEARCH_WEBAPP = "/qps/rest/3.0/search/was/webapp"
SEARCH_FINDING = "/qps/rest/3.0/search/was/finding"
COUNT_WEBAPP = "/qps/rest/3.0/count/was/webapp"
KB = "/api/2.0/fo/knowledge_base/vuln/"


def client_for(
    fake: FakeQualys, waits: list[float] | None = None, **overrides: object
) -> QualysClient:
    sleep = (waits if waits is not None else []).append
    return QualysClient(settings(**overrides), transport=fake.transport, sleep=sleep)


def form(request: httpx.Request) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(request.content.decode()).items()}


def kb_answer(qids: list[int], *, warning_url: str | None = None, **headers: str) -> httpx.Response:
    vulns = "".join(f"<VULN><QID>{q}</QID><TITLE><![CDATA[T{q}]]></TITLE></VULN>" for q in qids)
    warning = (
        f"<WARNING><CODE>1980</CODE><TEXT>more</TEXT><URL><![CDATA[{warning_url}]]></URL></WARNING>"
        if warning_url
        else ""
    )
    body = (
        "<KNOWLEDGE_BASE_VULN_LIST_OUTPUT><RESPONSE><DATETIME>2024-01-01T00:00:00Z</DATETIME>"
        f"<!-- keep-alive -->{'<VULN_LIST>' + vulns + '</VULN_LIST>' if vulns else ''}{warning}"
        "</RESPONSE></KNOWLEDGE_BASE_VULN_LIST_OUTPUT>"
    )
    return xml(body, **headers)


# --- the session ---


def test_every_call_carries_basic_auth_and_x_requested_with(samples: Path) -> None:
    """Requests go to the configured server with Basic auth and X-Requested-With."""
    fake = FakeQualys().add("GET", VERSION, sample(samples, "qps_portal_version.xml"))
    with client_for(fake) as client:
        data = client.portal_version()
    assert data["Portal-Version"]["WAS-VERSION"] == "1.1.0.0-2"
    request = fake.requests[0]
    assert str(request.url) == f"{API}{VERSION}"
    assert request.headers["x-requested-with"]
    expected = base64.b64encode(f"acme_ab12:{PASSWORD}".encode()).decode()
    assert request.headers["authorization"] == f"Basic {expected}"


def test_injected_transport_is_used_even_with_a_proxy(samples: Path) -> None:
    """A configured proxy never sends test traffic to the network when a transport is injected."""
    fake = FakeQualys().add("GET", VERSION, sample(samples, "qps_portal_version.xml"))
    with client_for(fake, proxy="http://proxy.invalid:3128") as client:
        client.portal_version()
    assert len(fake.requests) == 1


def test_real_session_builds_with_proxy_and_ca_bundle(tmp_path: Path) -> None:
    """Without a transport the client builds a proxied TLS session with the extra CA loaded."""
    import certifi

    bundle = tmp_path / "corp.pem"
    bundle.write_bytes(Path(certifi.where()).read_bytes()[:20000].rsplit(b"-----BEGIN", 1)[0])
    QualysClient(settings(proxy="http://proxy.internal:3128", ca_bundle=str(bundle))).close()


def test_a_ca_bundle_that_is_not_pem_is_a_config_error(tmp_path: Path) -> None:
    """A qualys.ca_bundle that holds no certificates is reported as a configuration error."""
    bundle = tmp_path / "bad.pem"
    bundle.write_text("not a certificate")
    with pytest.raises(ConfigError, match="ca_bundle"):
        QualysClient(settings(ca_bundle=str(bundle)))


# --- authentication ---


def test_wrong_password_with_http_200_is_an_auth_error_in_words(samples: Path) -> None:
    """HTTP 200 INVALID_CREDENTIALS raises QualysAuthError naming user and server, once only."""
    fake = FakeQualys().add("GET", VERSION, sample(samples, "qps_invalid_credentials_http200.xml"))
    waits: list[float] = []
    with client_for(fake, waits) as client, pytest.raises(QualysAuthError) as info:
        client.portal_version()
    message = str(info.value)
    assert message.startswith(f"Qualys rejected the credentials for user acme_ab12 on {API}: ")
    assert "Authentication failed" in message
    assert "QUALYS_PASSWORD" in message
    assert PASSWORD not in message
    assert len(fake.requests) == 1
    assert waits == []


def test_http_401_is_an_auth_error_never_retried() -> None:
    """HTTP 401 is refused credentials and is not retried."""
    fake = FakeQualys().add("GET", VERSION, httpx.Response(401, text="Unauthorized"))
    with (
        client_for(fake) as client,
        pytest.raises(QualysAuthError, match="rejected the credentials"),
    ):
        client.portal_version()
    assert len(fake.requests) == 1


def test_account_expired_is_an_auth_error(samples: Path) -> None:
    """SIMPLE_RETURN 2001 at HTTP 200 says the account expired."""
    fake = FakeQualys().add(
        "POST", KB, sample(samples, "api20_simple_return_2001_account_expired.xml")
    )
    with client_for(fake) as client, pytest.raises(QualysAuthError, match="has expired"):
        client.kb_lookup([6])


def test_missing_permission_names_what_to_ask_for() -> None:
    """UNAUTHORIZED explains that the user lacks a permission, not a wrong password."""
    body = (
        "<ServiceResponse><responseCode>UNAUTHORIZED</responseCode><responseErrorDetails>"
        "<errorMessage>Not authorized to access WAS</errorMessage></responseErrorDetails>"
        "</ServiceResponse>"
    )
    fake = FakeQualys().add("POST", SEARCH_WEBAPP, xml(body))
    with client_for(fake) as client, pytest.raises(QualysAuthError, match="not permitted") as info:
        next(client.iter_webapp_pages())
    assert "Not authorized to access WAS" in str(info.value)


# --- WAS searches and counts ---


def test_webapp_pages_follow_last_id(samples: Path) -> None:
    """Two pages: the second request asks for id GREATER the first page's lastId."""
    fake = FakeQualys().add(
        "POST",
        SEARCH_WEBAPP,
        sample(samples, "search_was_webapp_page_has_more.xml"),
        sample(samples, "search_was_webapp_page_last.xml"),
    )
    with client_for(fake, page_size=250) as client:
        pages = list(client.iter_webapp_pages([Criterion("name", "CONTAINS", "test")]))
    assert [(p.number, p.has_more, p.last_id) for p in pages] == [
        (1, True, 238483924),
        (2, False, None),
    ]
    assert [p.records[0]["id"] for p in pages] == ["238483924", "251316904"]
    first, second = (decode(r.content)["ServiceRequest"] for r in fake.requests)
    assert first["preferences"] == {"verbose": "true", "limitResults": "250"}
    assert first["filters"]["Criteria"] == [
        {"@field": "name", "@operator": "CONTAINS", "#text": "test"}
    ]
    assert second["filters"]["Criteria"][-1] == {
        "@field": "id",
        "@operator": "GREATER",
        "#text": "238483924",
    }
    assert fake.requests[0].headers["content-type"] == "text/xml"


def test_page_loop_is_detected(samples: Path) -> None:
    """A server that keeps naming the same lastId stops with 'loop detected in pagination'."""
    fake = FakeQualys().add(
        "POST", SEARCH_WEBAPP, sample(samples, "search_was_webapp_page_has_more.xml")
    )
    with client_for(fake) as client, pytest.raises(QualysResponseError, match="loop detected"):
        list(client.iter_webapp_pages())
    assert len(fake.requests) == 2


def test_finding_page_of_86_and_empty_search(samples: Path) -> None:
    """The 86-finding page is one page of 86 records; an empty search is one empty page."""
    fake = FakeQualys().add(
        "POST",
        SEARCH_FINDING,
        sample(samples, "search_was_finding_86.xml"),
        sample(samples, "search_was_finding_empty.xml"),
    )
    with client_for(fake) as client:
        (full,) = list(client.iter_finding_pages(verbose=False, page_size=1000))
        (empty,) = list(client.iter_finding_pages())
    assert len(full.records) == 86
    assert not full.has_more
    assert empty.records == []
    assert empty.last_id is None
    assert decode(fake.requests[0].content)["ServiceRequest"]["preferences"]["verbose"] == "false"


def test_empty_webapp_data_gives_no_records(samples: Path) -> None:
    """An empty <data/> element is a page without records."""
    fake = FakeQualys().add("POST", SEARCH_WEBAPP, sample(samples, "search_was_webapp_empty.xml"))
    with client_for(fake) as client:
        assert [p.records for p in client.iter_webapp_pages()] == [[]]


def test_counts() -> None:
    """The count endpoints return the total in <count>."""
    body = "<ServiceResponse><responseCode>SUCCESS</responseCode><count>7</count></ServiceResponse>"
    fake = FakeQualys().add("POST", COUNT_WEBAPP, xml(body))
    fake.add("POST", "/qps/rest/3.0/count/was/finding", xml(body.replace("7", "86")))
    with client_for(fake) as client:
        assert client.count_webapps() == 7
        assert client.count_findings([Criterion("status", "IN", ("NEW", "ACTIVE"))]) == 86
    assert client.stats.calls_by_endpoint == {"count/was/webapp": 1, "count/was/finding": 1}


def test_invalid_request_is_a_request_error_with_qualys_text(samples: Path) -> None:
    """INVALID_REQUEST at HTTP 200 raises QualysRequestError quoting Qualys, not retried."""
    fake = FakeQualys().add(
        "POST", SEARCH_FINDING, sample(samples, "search_was_finding_invalid_request.xml")
    )
    with client_for(fake) as client, pytest.raises(QualysRequestError) as info:
        next(client.iter_finding_pages([Criterion("webApp.id", "EQUALS", "abc123")]))
    assert "Invalid value format for criteria 'webApp.id'" in str(info.value)
    assert f"{API}{SEARCH_FINDING}" in str(info.value)
    assert len(fake.requests) == 1


def test_page_size_out_of_range_is_refused() -> None:
    """page_size outside 1..1000 is refused before any call."""
    with client_for(FakeQualys()) as client, pytest.raises(QualysRequestError, match="1..1000"):
        next(client.iter_webapp_pages(page_size=0))


# --- retries through the client ---


def test_rate_limit_wait_from_header_is_honoured(samples: Path) -> None:
    """A 409 with X-RateLimit-ToWait-Sec waits that long, then the retry succeeds."""
    fake = FakeQualys().add(
        "POST",
        KB,
        sample(samples, "api20_409_1960_concurrency.xml", 409, x_ratelimit_towait_sec="5"),
        kb_answer([6]),
    )
    waits: list[float] = []
    with client_for(fake, waits) as client:
        result = client.kb_lookup([6])
    assert waits == [5]
    assert [v["QID"] for v in result.vulns] == ["6"]
    assert client.stats.retries == 1
    assert client.stats.errors_by_kind == {"retry": 1}
    assert client.stats.api_calls == 2


def test_rate_limit_beyond_the_cap_gives_up_without_sleeping(samples: Path) -> None:
    """SECONDS_TO_WAIT of 19 hours exceeds retry_max_wait_seconds: fail at once, never sleep."""
    fake = FakeQualys().add("POST", KB, sample(samples, "api20_409_1965_rate_limit.xml", 409))
    waits: list[float] = []
    with client_for(fake, waits) as client, pytest.raises(QualysUnreachableError) as info:
        client.kb_lookup([6])
    assert waits == []
    assert "68928" in str(info.value)
    assert "23 hours" in str(info.value)


@pytest.mark.parametrize(
    "first",
    [
        pytest.param(
            httpx.Response(
                503, headers={"content-type": "text/html"}, text="<html>Maintenance</html>"
            ),
            id="maintenance-html",
        ),
        pytest.param(xml(b"<ServiceResponse><responseCode>SUCC"), id="truncated-xml"),
        pytest.param(
            httpx.Response(
                200, headers={"content-type": "text/html"}, text="<html><body>down</body></html>"
            ),
            id="html-200",
        ),
        pytest.param(httpx.ConnectError("connection refused"), id="connect-error"),
        pytest.param(httpx.ReadTimeout("timed out"), id="timeout"),
        pytest.param(
            httpx.RemoteProtocolError(
                "peer closed connection without sending complete message body"
            ),
            id="reset-mid-body",
        ),
    ],
)
def test_transient_failures_are_retried(samples: Path, first: httpx.Response | Exception) -> None:
    """Maintenance pages, truncated XML, connection errors, timeouts and resets are retried."""
    fake = FakeQualys().add("GET", VERSION, first, sample(samples, "qps_portal_version.xml"))
    waits: list[float] = []
    with client_for(fake, waits) as client:
        assert "Portal-Version" in client.portal_version()
    assert len(fake.requests) == 2
    assert len(waits) == 1


def test_retries_exhausted_name_the_url_and_never_the_password() -> None:
    """After max attempts of connection errors the error names the URL, not the credentials."""
    fake = FakeQualys().add("GET", VERSION, httpx.ConnectError("connection refused"))
    waits: list[float] = []
    with (
        client_for(fake, waits, retry_max_attempts=3) as client,
        pytest.raises(QualysUnreachableError) as info,
    ):
        client.portal_version()
    assert len(fake.requests) == 3
    assert len(waits) == 2
    assert f"{API}{VERSION}" in str(info.value)
    assert PASSWORD not in str(info.value)
    assert client.stats.errors_by_kind == {"network": 3}


def test_tls_certificate_failure_is_not_retried_and_points_at_ca_bundle() -> None:
    """An untrusted certificate fails at once and suggests qualys.ca_bundle."""

    def untrusted(request: httpx.Request) -> httpx.Response:
        try:
            raise ssl.SSLCertVerificationError("certificate verify failed: self-signed")
        except ssl.SSLError as exc:
            raise httpx.ConnectError("certificate verify failed", request=request) from exc

    fake = FakeQualys().add("GET", VERSION, untrusted)
    with client_for(fake) as client, pytest.raises(QualysUnreachableError, match="ca_bundle"):
        client.portal_version()
    assert len(fake.requests) == 1


def test_dns_failure_says_cannot_resolve() -> None:
    """A name that does not resolve is reported as such after the retries."""

    def unresolvable(request: httpx.Request) -> httpx.Response:
        try:
            raise socket.gaierror(-2, "Name or service not known")
        except OSError as exc:
            raise httpx.ConnectError(
                "[Errno -2] Name or service not known", request=request
            ) from exc

    fake = FakeQualys().add("GET", VERSION, unresolvable)
    with (
        client_for(fake, retry_max_attempts=2) as client,
        pytest.raises(QualysUnreachableError, match="cannot resolve qualysapi.example.test"),
    ):
        client.portal_version()


def test_entity_bomb_response_is_refused_without_retry() -> None:
    """A response declaring entities is a QualysResponseError on the first attempt."""
    bomb = (
        b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;">]><r>&b;</r>'
    )
    fake = FakeQualys().add("GET", VERSION, xml(bomb))
    with client_for(fake) as client, pytest.raises(QualysResponseError, match="entities"):
        client.portal_version()
    assert len(fake.requests) == 1


def test_unexpected_root_is_a_response_error(samples: Path) -> None:
    """A KB answer where a WAS ServiceResponse is expected is a QualysResponseError."""
    fake = FakeQualys().add("GET", VERSION, sample(samples, "kb_vuln_list_cve.xml"))
    with client_for(fake) as client, pytest.raises(QualysResponseError, match="ServiceResponse"):
        client.portal_version()


# --- Knowledge Base ---


def _echo_kb(unknown: set[int]) -> tuple[list[list[int]], object]:
    batches: list[list[int]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        ids = [int(i) for i in form(request)["ids"].split(",")]
        batches.append(ids)
        return kb_answer([i for i in ids if i not in unknown])

    return batches, handler


def test_kb_lookup_batches_650_qids_into_3_calls() -> None:
    """650 QIDs with batches of 300 make 3 calls (300, 300, 50); unknown QIDs are reported."""
    batches, handler = _echo_kb(unknown={7, 649})
    fake = FakeQualys().add("POST", KB, handler)  # type: ignore[arg-type]
    with client_for(fake, kb_batch_size=300) as client:
        result = client.kb_lookup(list(range(650, 0, -1)))
    assert [len(b) for b in batches] == [300, 300, 50]
    assert result.calls == 3
    assert result.unknown == {7, 649}
    assert len(result.vulns) == 648
    request = form(fake.requests[0])
    assert (request["action"], request["details"]) == ("list", "All")


def test_kb_batch_size_never_exceeds_300() -> None:
    """Even a larger configured batch is capped at 300 QIDs per call."""
    batches, handler = _echo_kb(unknown=set())
    fake = FakeQualys().add("POST", KB, handler)  # type: ignore[arg-type]
    with client_for(fake, kb_batch_size=5000) as client:
        client.kb_lookup(range(1, 302))  # type: ignore[arg-type]
    assert [len(b) for b in batches] == [300, 1]


def test_unknown_qid_sample_gives_unknown(samples: Path) -> None:
    """The recorded answer for an unknown QID (no VULN_LIST) puts the QID in unknown."""
    fake = FakeQualys().add("POST", KB, sample(samples, "kb_vuln_list_unknown_qid.xml"))
    with client_for(fake) as client:
        result = client.kb_lookup([99999999], details="Basic")
    assert result.vulns == []
    assert result.unknown == {99999999}
    assert form(fake.requests[0])["details"] == "Basic"


def test_real_kb_sample_is_returned_whole(samples: Path) -> None:
    """Every VULN of the recorded KB answer comes back, none reported unknown."""
    raw = (samples / "kb_vuln_list_43_qids.xml").read_bytes()
    qids = [int(q) for q in re.findall(rb"<QID>(\d+)</QID>", raw)]
    fake = FakeQualys().add("POST", KB, xml(raw))
    with client_for(fake) as client:
        result = client.kb_lookup(qids)
    assert {int(v["QID"]) for v in result.vulns} == set(qids)
    assert result.unknown == set()


def test_kb_follows_warning_url() -> None:
    """A WARNING/URL continuation is followed on the same server and its VULNs merged."""
    next_url = f"{API}{KB}?action=list&details=All&ids=1-5&id_min=3"
    fake = FakeQualys().add(
        "POST", KB, kb_answer([1, 2], warning_url=next_url), kb_answer([3, 4, 5])
    )
    with client_for(fake) as client:
        result = client.kb_lookup([1, 2, 3, 4, 5, 6])
    assert result.calls == 2
    assert result.unknown == {6}
    assert form(fake.requests[1])["id_min"] == "3"
    assert len(fake.requests) == 2


def test_kb_warning_url_on_another_host_is_refused() -> None:
    """Credentials are never sent to a WARNING/URL on another host."""
    fake = FakeQualys().add(
        "POST", KB, kb_answer([1], warning_url=f"https://evil.example{KB}?id_min=2")
    )
    with client_for(fake) as client, pytest.raises(QualysResponseError, match="refusing"):
        client.kb_lookup([1, 2])


def test_kb_warning_url_loop_is_detected() -> None:
    """A WARNING/URL that repeats is a loop, not an endless crawl."""
    url = f"{API}{KB}?action=list&ids=1-2&id_min=2"
    fake = FakeQualys().add("POST", KB, kb_answer([1], warning_url=url))
    with client_for(fake) as client, pytest.raises(QualysResponseError, match="loop detected"):
        client.kb_lookup([1, 2])


def test_kb_bad_parameter_is_a_request_error(samples: Path) -> None:
    """SIMPLE_RETURN 1905 with HTTP 400 raises QualysRequestError quoting Qualys."""
    fake = FakeQualys().add("POST", KB, sample(samples, "kb_simple_return_1905_http400.xml", 400))
    with (
        client_for(fake) as client,
        pytest.raises(QualysRequestError, match="parameter ids has invalid value"),
    ):
        client.kb_lookup([1])


def test_kb_changed_since_sends_last_modified_after() -> None:
    """kb_changed_since filters with last_modified_after in UTC."""
    fake = FakeQualys().add("POST", KB, kb_answer([42]))
    with client_for(fake) as client:
        vulns = client.kb_changed_since([42, 43], datetime(2024, 5, 1, 12, 0, tzinfo=UTC))
    assert [v["QID"] for v in vulns] == ["42"]
    assert form(fake.requests[0])["last_modified_after"] == "2024-05-01T12:00:00Z"


def _concurrency_probe(limit_header: str) -> tuple[FakeQualys, list[int]]:
    in_flight = [0]
    peaks: list[int] = []
    lock = threading.Lock()

    def handler(request: httpx.Request) -> httpx.Response:
        with lock:
            in_flight[0] += 1
            peaks.append(in_flight[0])
        time.sleep(0.02)
        with lock:
            in_flight[0] -= 1
        return kb_answer([int(form(request)["ids"])], x_concurrency_limit_limit=limit_header)

    return FakeQualys().add("POST", KB, handler), peaks


def _run_threads(client: QualysClient, n: int) -> None:
    threads = [threading.Thread(target=client.kb_lookup, args=([i + 1],)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def test_kb_calls_never_exceed_the_concurrency_limit() -> None:
    """With X-Concurrency-Limit-Limit 1, six threads never have two KB calls in flight."""
    fake, peaks = _concurrency_probe("1")
    with client_for(fake) as client:
        _run_threads(client, 6)
        assert client.kb_concurrency_limit == 1
    assert len(peaks) == 6
    assert max(peaks) == 1


def test_kb_concurrency_follows_the_server_header() -> None:
    """X-Concurrency-Limit-Limit 2 raises the limit to 2 and never beyond."""
    fake, peaks = _concurrency_probe("2")
    with client_for(fake) as client:
        _run_threads(client, 8)
        assert client.kb_concurrency_limit == 2
    assert max(peaks) <= 2


def test_stats_count_correctly_from_many_threads(samples: Path) -> None:
    """Two page streams fetched from parallel threads are counted exactly."""
    fake = FakeQualys().add("POST", SEARCH_WEBAPP, sample(samples, "search_was_webapp_7.xml"))
    fake.add("POST", SEARCH_FINDING, sample(samples, "search_was_finding_86.xml"))
    with client_for(fake) as client:
        threads = [
            threading.Thread(target=lambda: list(client.iter_webapp_pages())) for _ in range(5)
        ] + [threading.Thread(target=lambda: list(client.iter_finding_pages())) for _ in range(5)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert client.stats.snapshot() == {
            "api_calls": 10,
            "retries": 0,
            "errors_by_kind": {},
            "calls_by_endpoint": {"search/was/webapp": 5, "search/was/finding": 5},
        }
