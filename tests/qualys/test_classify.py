"""The classification table: every real sample plus the synthetic cases the samples lack."""

from __future__ import annotations

from pathlib import Path

import pytest

from connector.qualys.classify import TABLE, OutcomeKind, classify
from connector.qualys.decode import decode

S = OutcomeKind.SUCCESS
RETRY = OutcomeKind.RETRY
AUTH = OutcomeKind.AUTH
REQ = OutcomeKind.REQUEST_ERROR
BAD = OutcomeKind.BAD_RESPONSE
PROXY = OutcomeKind.PROXY_AUTH
LOGIN = OutcomeKind.LOGIN_PAGE
XML = {"content-type": "text/xml"}
HTML = {"content-type": "text/html; charset=utf-8"}

# sample file -> (HTTP status it arrives with, expected kind, expected server wait, code)
SAMPLES: dict[str, tuple[int, OutcomeKind, float | None, str | None]] = {
    "api20_409_1960_concurrency.xml": (409, RETRY, None, "1960"),
    "api20_409_1965_rate_limit.xml": (409, RETRY, 68928.0, "1965"),
    "api20_simple_return_2001_account_expired.xml": (200, AUTH, None, "2001"),
    "kb_simple_return_1905_http400.xml": (400, REQ, None, "1905"),
    "kb_vuln_list_43_qids.xml": (200, S, None, None),
    "kb_vuln_list_cve.xml": (200, S, None, None),
    "kb_vuln_list_full_details.xml": (200, S, None, None),
    "kb_vuln_list_unknown_qid.xml": (200, S, None, None),
    "qps_invalid_credentials_http200.xml": (200, AUTH, None, "INVALID_CREDENTIALS"),
    "qps_portal_version.xml": (200, S, None, "SUCCESS"),
    "search_was_finding_86.xml": (200, S, None, "SUCCESS"),
    "search_was_finding_empty.xml": (200, S, None, "SUCCESS"),
    "search_was_finding_invalid_request.xml": (200, REQ, None, "INVALID_REQUEST"),
    "search_was_finding_request.xml": (200, S, None, None),
    "search_was_webapp_7.xml": (200, S, None, "SUCCESS"),
    "search_was_webapp_empty.xml": (200, S, None, "SUCCESS"),
    "search_was_webapp_page_has_more.xml": (200, S, None, "SUCCESS"),
    "search_was_webapp_page_last.xml": (200, S, None, "SUCCESS"),
    "was_scan_report_one_vuln.xml": (200, S, None, None),
}


@pytest.mark.parametrize(("name", "expected"), sorted(SAMPLES.items()))
def test_real_samples_classify(
    samples: Path, name: str, expected: tuple[int, OutcomeKind, float | None, str | None]
) -> None:
    """Each recorded Qualys answer, with the status it arrives with, maps to the expected outcome."""
    status, kind, wait, code = expected
    outcome = classify(status, XML, decode((samples / name).read_bytes()))
    assert (outcome.kind, outcome.wait_seconds, outcome.code) == (kind, wait, code)


def test_every_xml_sample_is_in_the_table(samples: Path) -> None:
    """A new XML sample cannot be added to ../shared without saying how it classifies."""
    assert {p.name for p in samples.glob("*.xml")} == set(SAMPLES)


def test_errors_carry_the_qualys_text(samples: Path) -> None:
    """An error outcome's message quotes what Qualys said, so the user sees it."""
    invalid = decode((samples / "search_was_finding_invalid_request.xml").read_bytes())
    outcome = classify(200, XML, invalid)
    assert "Invalid value format for criteria 'webApp.id'" in outcome.message
    creds = decode((samples / "qps_invalid_credentials_http200.xml").read_bytes())
    assert "Authentication failed" in classify(200, XML, creds).message


SIMPLE = "<SIMPLE_RETURN><RESPONSE><CODE>{code}</CODE><TEXT>t</TEXT></RESPONSE></SIMPLE_RETURN>"
QPS = "<ServiceResponse><responseCode>{code}</responseCode></ServiceResponse>"


def _doc(template: str, code: str) -> dict[str, object]:
    return decode(template.format(code=code))


@pytest.mark.parametrize(
    ("status", "headers", "doc", "kind", "wait"),
    [
        pytest.param(401, {"content-type": "text/plain"}, None, AUTH, None, id="401-plain"),
        pytest.param(403, XML, None, AUTH, None, id="403"),
        pytest.param(200, XML, _doc(QPS, "UNAUTHORIZED"), AUTH, None, id="200-unauthorized"),
        pytest.param(401, XML, _doc(QPS, "INVALID_CREDENTIALS"), AUTH, None, id="401-creds"),
        pytest.param(409, {"x-ratelimit-towait-sec": "42"}, None, RETRY, 42.0, id="409-header"),
        pytest.param(429, {"retry-after": "7"}, None, RETRY, 7.0, id="429-retry-after"),
        pytest.param(500, XML, None, RETRY, None, id="500"),
        pytest.param(502, {"content-type": "text/html"}, None, RETRY, None, id="502-html"),
        pytest.param(503, {"retry-after": "120"}, None, RETRY, 120.0, id="503-retry-after"),
        pytest.param(504, XML, None, RETRY, None, id="504"),
        pytest.param(200, {"content-type": "text/html"}, None, RETRY, None, id="200-maintenance"),
        pytest.param(200, XML, None, BAD, None, id="200-truncated-xml"),
        pytest.param(400, {"content-type": "text/plain"}, None, REQ, None, id="400-plain"),
        pytest.param(404, XML, None, REQ, None, id="404"),
        pytest.param(301, XML, None, REQ, None, id="301-redirect"),
        pytest.param(200, XML, _doc(SIMPLE, "1999"), REQ, None, id="unknown-simple-code"),
        pytest.param(200, XML, _doc(QPS, "SOMETHING_NEW"), REQ, None, id="unknown-qps-code"),
        pytest.param(409, XML, _doc(SIMPLE, "1999"), RETRY, None, id="409-unknown-code"),
        pytest.param(200, XML, _doc(QPS, "INVALID_REQUEST"), REQ, None, id="invalid-request"),
        pytest.param(500, XML, _doc(QPS, "SUCCESS"), RETRY, None, id="500-beats-success"),
        pytest.param(407, {"content-type": "text/plain"}, None, PROXY, None, id="407-plain"),
        pytest.param(407, HTML, None, PROXY, None, id="407-html"),
        pytest.param(407, {"retry-after": "30"}, None, PROXY, None, id="407-never-waits"),
    ],
)
def test_synthetic_cases(
    status: int,
    headers: dict[str, str],
    doc: dict[str, object] | None,
    kind: OutcomeKind,
    wait: float | None,
) -> None:
    """Statuses, content types and codes without a recorded sample classify as the table says."""
    outcome = classify(status, headers, doc)
    assert (outcome.kind, outcome.wait_seconds) == (kind, wait)


def test_header_wait_wins_over_body_wait(samples: Path) -> None:
    """X-RateLimit-ToWait-Sec is preferred to SECONDS_TO_WAIT when both are present."""
    doc = decode((samples / "api20_409_1965_rate_limit.xml").read_bytes())
    outcome = classify(409, {**XML, "x-ratelimit-towait-sec": "15"}, doc)
    assert outcome.wait_seconds == 15.0


def test_retry_after_as_http_date_in_the_past_gives_no_wait() -> None:
    """A Retry-After date already past falls back to backoff (no server wait)."""
    outcome = classify(503, {"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}, None)
    assert outcome.kind is RETRY
    assert outcome.wait_seconds is None


def test_only_retry_outcomes_carry_a_wait(samples: Path) -> None:
    """A wait header on an auth failure does not turn it into something to wait for."""
    creds = decode((samples / "qps_invalid_credentials_http200.xml").read_bytes())
    outcome = classify(200, {"x-ratelimit-towait-sec": "5"}, creds)
    assert outcome.kind is AUTH
    assert outcome.wait_seconds is None
    assert not outcome.transient


def test_table_ends_with_a_catch_all() -> None:
    """The last row matches anything, so classify always returns an outcome."""
    last = TABLE[-1]
    assert last.code is None
    assert last.status is None
    assert last.body is None


@pytest.mark.parametrize("status", [200, 503])
def test_html_page_is_reported_as_maintenance(status: int) -> None:
    """An HTML page where XML was expected is retried and named as maintenance, whatever the status."""
    outcome = classify(status, {"content-type": "text/html; charset=utf-8"}, None)
    assert outcome.kind is RETRY
    assert "maintenance" in outcome.message


MAINTENANCE = b"<html><body><h1>Qualys is down for scheduled maintenance</h1></body></html>"
CAPTIVE = (
    b'<html><title>Guest Wi-Fi</title><form action="/login" method="post">'
    b'<input name="user"><input type="password" name="pw"></form></html>'
)
SSO_UPPER = b"<HTML><FORM><INPUT NAME=pass TYPE=PASSWORD></FORM></HTML>"
SSO_QUOTED = b"<form><input id='p' type = 'password' autocomplete='current-password'></form>"
SAML = (
    b'<html><body onload="document.forms[0].submit()"><form method="post" '
    b'action="https://idp.example/sso"><input type="hidden" name="SAMLRequest" value="PHNhbWw+">'
    b"</form></body></html>"
)
MENTIONS_PASSWORD = b"<html><p>Password resets are paused during maintenance.</p></html>"


@pytest.mark.parametrize(
    ("status", "body", "kind", "words"),
    [
        pytest.param(200, MAINTENANCE, RETRY, "maintenance", id="200-maintenance"),
        pytest.param(503, MAINTENANCE, RETRY, "maintenance", id="503-maintenance"),
        pytest.param(200, MENTIONS_PASSWORD, RETRY, "maintenance", id="the-word-password"),
        pytest.param(200, CAPTIVE, LOGIN, "login page", id="captive-portal"),
        pytest.param(200, SSO_UPPER, LOGIN, "login page", id="upper-case-form"),
        pytest.param(200, SSO_QUOTED, LOGIN, "login page", id="single-quotes"),
        pytest.param(200, SAML, LOGIN, "login page", id="saml-hand-off"),
        pytest.param(401, CAPTIVE, LOGIN, "login page", id="401-login-page-is-not-qualys"),
        pytest.param(407, CAPTIVE, PROXY, "407 Proxy Authentication Required", id="407-form"),
    ],
)
def test_html_pages_tell_a_login_page_from_maintenance(
    status: int, body: bytes, kind: OutcomeKind, words: str
) -> None:
    """An HTML page with a password field or a SAML form is a login page in the way, not Qualys
    maintenance (and not Qualys refusing credentials); other HTML stays maintenance."""
    outcome = classify(status, HTML, None, body)
    assert outcome.kind is kind
    assert words in outcome.message
    assert not outcome.transient or kind is RETRY


def test_a_login_form_in_xml_is_not_looked_for() -> None:
    """Only HTML bodies are searched for a login form: an XML answer is classified by its code."""
    outcome = classify(200, XML, _doc(QPS, "SUCCESS"), b'<input type="password">')
    assert outcome.kind is S
