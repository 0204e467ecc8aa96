"""The HTTP session to the Qualys API server, and what its network errors mean in words."""

from __future__ import annotations

import socket
import ssl
from collections.abc import Iterator

import certifi
import httpx

from connector.config import QualysSettings
from connector.errors import ConfigError

REQUESTED_WITH = "qualys-was-connector"
CONNECT_TIMEOUT_CAP = 30.0


def safe_url(url: str | httpx.URL) -> str:
    """The URL without user info or query string: safe to log and to show."""
    parsed = httpx.URL(str(url))
    port = f":{parsed.port}" if parsed.port else ""
    path = "" if parsed.path == "/" else parsed.path
    return f"{parsed.scheme}://{parsed.host}{port}{path}"


def ssl_context(settings: QualysSettings) -> ssl.SSLContext:
    """certifi's CAs plus qualys.ca_bundle (for TLS-inspecting corporate networks)."""
    context = ssl.create_default_context(cafile=certifi.where())
    if settings.ca_bundle:
        try:
            context.load_verify_locations(cafile=settings.ca_bundle)
        except (OSError, ssl.SSLError) as exc:
            raise ConfigError(
                [f"qualys.ca_bundle {settings.ca_bundle} is not a readable PEM CA file ({exc})"]
            ) from exc
    return context


def build_http_client(
    settings: QualysSettings,
    *,
    transport: httpx.BaseTransport | None = None,
    authenticated: bool = True,
    timeout_seconds: float | None = None,
) -> httpx.Client:
    """An httpx.Client for the API server: Basic auth, X-Requested-With, timeout, proxy, CAs.

    The environment's proxy variables are ignored (trust_env=False): the proxy is what the
    configuration says. An injected transport replaces the network entirely, proxy included.
    """
    timeout = timeout_seconds if timeout_seconds is not None else settings.timeout_seconds
    return httpx.Client(
        base_url=settings.api_url,
        auth=(
            httpx.BasicAuth(settings.username, settings.password.reveal())
            if authenticated
            else None
        ),
        headers={"X-Requested-With": REQUESTED_WITH, "User-Agent": REQUESTED_WITH},
        timeout=httpx.Timeout(timeout, connect=min(timeout, CONNECT_TIMEOUT_CAP)),
        proxy=settings.proxy if transport is None else None,
        verify=ssl_context(settings) if transport is None else True,
        transport=transport,
        trust_env=False,
        follow_redirects=False,
    )


def causes(exc: BaseException) -> Iterator[BaseException]:
    """The exception and everything it was raised from."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def explain_network_error(  # noqa: PLR0911 - one return per kind of failure reads as a table
    exc: httpx.HTTPError, settings: QualysSettings
) -> tuple[bool, str]:
    """(worth retrying?, one-line reason with what to do) for an httpx error. Never credentials."""
    host = httpx.URL(settings.api_url).host
    via = f" via proxy {safe_url(settings.proxy)}" if settings.proxy else ""
    chain = list(causes(exc))
    if any(isinstance(c, ssl.SSLCertVerificationError) for c in chain):
        return False, (
            f"the TLS certificate of {host}{via} is not trusted ({exc}): if your network "
            "inspects TLS, set qualys.ca_bundle to your corporate CA file"
        )
    if any(isinstance(c, socket.gaierror) for c in chain):
        return True, (
            f"cannot resolve {host if not settings.proxy else safe_url(settings.proxy)} ({exc}): "
            "check qualys.platform / qualys.api_url / qualys.proxy and DNS"
        )
    if isinstance(exc, httpx.ProxyError):
        proxy = safe_url(settings.proxy or "")
        return False, f"the proxy {proxy} refused the connection ({exc}): check qualys.proxy"
    if isinstance(exc, httpx.TimeoutException):
        return True, f"no answer from {host}{via} within the timeout ({type(exc).__name__})"
    if isinstance(exc, httpx.ConnectError):
        return True, f"cannot connect to {host}{via} ({exc}): check the network, firewall and proxy"
    if isinstance(exc, httpx.UnsupportedProtocol):
        return False, f"unsupported URL scheme in qualys.api_url or qualys.proxy ({exc})"
    if isinstance(exc, httpx.TransportError):  # reset mid-body, protocol errors, read/write errors
        return True, f"the connection to {host}{via} broke ({type(exc).__name__}: {exc})"
    if isinstance(exc, httpx.DecodingError):
        return True, f"the answer from {host} could not be decoded ({exc})"
    return False, f"HTTP error talking to {host}{via}: {exc}"
