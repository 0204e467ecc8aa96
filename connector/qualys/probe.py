"""Can the API server be reached at all? One unauthenticated request, no retries."""

from __future__ import annotations

import httpx

from connector.config import QualysSettings
from connector.errors import QualysUnreachableError
from connector.qualys.session import (
    build_http_client,
    explain_network_error,
    proxy_refusal,
    safe_url,
)

PROBE_TIMEOUT_SECONDS = 30.0


def probe_server(settings: QualysSettings, *, transport: httpx.BaseTransport | None = None) -> str:
    """Resolve the API server and open a TLS connection (TCP for http://), through the proxy.

    Sends no credentials. Any HTTP answer proves the connection works, except a proxy's 407
    (the proxy wants credentials, so Qualys was not reached). Returns a one-line
    description; raises QualysUnreachableError naming DNS, TLS, proxy or timeout problems.
    """
    base = safe_url(settings.api_url)
    secure = httpx.URL(settings.api_url).scheme == "https"
    via = f" via proxy {safe_url(settings.proxy)}" if settings.proxy else ""
    timeout = min(settings.timeout_seconds, PROBE_TIMEOUT_SECONDS)
    with build_http_client(
        settings, transport=transport, authenticated=False, timeout_seconds=timeout
    ) as http:
        try:
            response = http.get("/")
        except httpx.HTTPError as exc:
            _, reason = explain_network_error(exc, settings)
            raise QualysUnreachableError(f"cannot reach {base}: {reason}") from exc
    if response.status_code == 407:
        raise QualysUnreachableError(f"cannot reach {base}: {proxy_refusal(settings)}")
    kind = "a TLS connection" if secure else "a TCP connection (plain http, no TLS)"
    return f"{base} resolved and accepted {kind}{via} (HTTP {response.status_code})"
