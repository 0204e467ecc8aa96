"""The HTTP session to the Qualys API server, and what its network errors mean in words."""

from __future__ import annotations

import re
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
    try:
        parsed = httpx.URL(str(url))
    except httpx.InvalidURL:
        return "<an invalid URL>"
    port = f":{parsed.port}" if parsed.port else ""
    path = "" if parsed.path == "/" else parsed.path
    host = f"[{parsed.host}]" if ":" in parsed.host else parsed.host
    return f"{parsed.scheme}://{host}{port}{path}"


def proxy_refusal(settings: QualysSettings) -> str:
    """What an HTTP 407 means, in words: the proxy (never Qualys) wants other credentials."""
    if not settings.proxy:
        return (
            "a proxy between this host and Qualys demands credentials (HTTP 407 Proxy "
            "Authentication Required) but qualys.proxy is not set: set qualys.proxy (or "
            "CONNECTOR_QUALYS_PROXY) to http://user:password@proxy:port"
        )
    parsed = httpx.URL(settings.proxy)
    proxy = safe_url(parsed)
    if not parsed.userinfo:
        return (
            f"the proxy at {proxy} requires credentials (HTTP 407 Proxy Authentication "
            "Required): give them in qualys.proxy (or CONNECTOR_QUALYS_PROXY) as "
            f"{parsed.scheme}://user:password@{parsed.netloc.decode('ascii')}"
        )
    return (
        f"the proxy at {proxy} refused the proxy credentials (HTTP 407 Proxy Authentication "
        "Required): check the user name and password in qualys.proxy (or "
        "CONNECTOR_QUALYS_PROXY); Qualys itself was not reached"
    )


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
    try:
        return _client(settings, transport, authenticated=authenticated, timeout=timeout)
    except ImportError as exc:  # httpx raises it for socks5:// without its optional package
        raise ConfigError(
            [
                f"qualys.proxy {safe_url(settings.proxy or '')} is a SOCKS proxy, which needs the "
                "socksio package this installation lacks: use an HTTP proxy, or install "
                "httpx[socks]"
            ]
        ) from exc
    except (ValueError, httpx.InvalidURL) as exc:
        # The configuration is validated first; this is for what only httpx knows (a host name
        # IDNA refuses...). Never the URL itself.
        raise ConfigError(
            [
                f"qualys.api_url {safe_url(settings.api_url)} or qualys.proxy cannot be used: "
                f"{type(exc).__name__}: {_without_urls(str(exc))}"
            ]
        ) from exc


def _client(
    settings: QualysSettings,
    transport: httpx.BaseTransport | None,
    *,
    authenticated: bool,
    timeout: float,
) -> httpx.Client:
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


def _without_urls(text: str) -> str:
    """An exception's text with any URL in it reduced to its safe form."""
    return re.sub(
        r"[A-Za-z][A-Za-z0-9+.-]*://\S+", lambda m: safe_url(m.group(0).rstrip("')\"")), text
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
    if isinstance(exc, httpx.ProxyError) and str(exc).startswith("407"):
        return False, proxy_refusal(settings)
    if isinstance(exc, httpx.ProxyError):
        proxy = safe_url(settings.proxy or "")
        return False, (
            f"the proxy at {proxy} refused to connect to {host} ({_without_urls(str(exc))}): "
            "check qualys.proxy, and that the proxy allows this host"
        )
    if isinstance(exc, httpx.TimeoutException):
        return True, f"no answer from {host}{via} within the timeout ({type(exc).__name__})"
    if isinstance(exc, httpx.ConnectError):
        return True, f"cannot connect to {host}{via} ({exc}): check the network, firewall and proxy"
    if isinstance(exc, httpx.UnsupportedProtocol):
        return False, (
            f"unsupported URL scheme in qualys.api_url or qualys.proxy ({_without_urls(str(exc))})"
        )
    if isinstance(exc, httpx.TransportError):  # reset mid-body, protocol errors, read/write errors
        return True, f"the connection to {host}{via} broke ({type(exc).__name__}: {exc})"
    if isinstance(exc, httpx.DecodingError):
        return True, f"the answer from {host} could not be decoded ({exc})"
    return False, f"HTTP error talking to {host}{via}: {exc}"
