"""What a failed Qualys answer becomes: the exception and its one-line message (what happened,
why, what to do), from the outcome the classification table gave it. Credentials never appear."""

from __future__ import annotations

from connector.config import QualysSettings
from connector.errors import (
    QualysAuthError,
    QualysError,
    QualysRequestError,
    QualysResponseError,
    QualysUnreachableError,
)
from connector.qualys.classify import Outcome, OutcomeKind
from connector.qualys.retry import TransientError
from connector.qualys.session import proxy_refusal, safe_url


def failure_for(
    outcome: Outcome, method: str, url: str, settings: QualysSettings, base_url: str
) -> Exception:
    """The exception a failed answer becomes, with a message naming what happened and what to do."""
    if outcome.kind is OutcomeKind.AUTH:
        return _auth_failure(outcome, url, settings, base_url)
    if outcome.kind in (OutcomeKind.PROXY_AUTH, OutcomeKind.LOGIN_PAGE):
        return _not_qualys_failure(outcome, method, url, settings)
    said = _said(outcome)
    if outcome.kind is OutcomeKind.REQUEST_ERROR:
        return QualysRequestError(f"Qualys rejected {method} {url}: {said}")
    if outcome.kind is OutcomeKind.SUCCESS:  # success without a document cannot happen
        return QualysResponseError(f"Qualys answered {method} {url} without a document")
    return TransientError(
        f"{said}",
        kind="bad_response" if outcome.kind is OutcomeKind.BAD_RESPONSE else "retry",
        wait_seconds=outcome.wait_seconds,
    )


def _auth_failure(
    outcome: Outcome, url: str, settings: QualysSettings, base_url: str
) -> QualysAuthError:
    said = _said(outcome, outcome.qualys_text)
    user = settings.username
    if outcome.code == "UNAUTHORIZED" or outcome.status == 403:
        return QualysAuthError(
            f"Qualys user {user} is not permitted to call {url}: {said}; ask your "
            "Qualys administrator for the WAS module, API access and a role that may "
            "read the KnowledgeBase"
        )
    if outcome.code == "2001":
        return QualysAuthError(
            f"the Qualys account {user} on {base_url} has expired: {said}; "
            "renew the subscription or configure another account"
        )
    return QualysAuthError(
        f"Qualys rejected the credentials for user {user} on {base_url}: {said}; "
        "check username and password (QUALYS_USERNAME / qualys.username, "
        "QUALYS_PASSWORD / qualys.password_file)"
    )


def _not_qualys_failure(
    outcome: Outcome, method: str, url: str, settings: QualysSettings
) -> QualysError:
    """Something between us and Qualys answered: a proxy wanting credentials, a login page.
    Never retried (a proxy account locks like any other) and never blamed on Qualys."""
    if outcome.kind is OutcomeKind.PROXY_AUTH:
        return QualysUnreachableError(f"{method} {url} failed: {proxy_refusal(settings)}")
    via = f" via proxy {safe_url(settings.proxy)}" if settings.proxy else ""
    return QualysUnreachableError(
        f"{method} {url}{via} was answered by an HTML login page (HTTP {outcome.status}), "
        "not by the Qualys API: a captive portal, single sign-on gateway or web proxy is "
        "intercepting the connection (let this host through it), or qualys.api_url "
        "points at a web page instead of the API server (qualysapi...)"
    )


def _said(outcome: Outcome, words: str = "") -> str:
    """What the answer said, with its HTTP status and Qualys code."""
    code = f", {outcome.code}" if outcome.code else ""
    return f"{words or outcome.message} (HTTP {outcome.status}{code})"
