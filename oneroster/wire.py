"""One request on the wire: the session, egress-checked sockets, the proxy, redirects, the body.

What a single try of a request needs, below the retries and the time budget of
oneroster/http.py: which proxy a connection uses, which addresses a socket may reach, where
credentials may follow a redirect, and how a whole body is read; and the value types a
request and its answer travel in.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import urljoin, urlsplit

import requests
import urllib3
from requests.adapters import HTTPAdapter

from oneroster.egress import EgressPolicy, EgressPoolManager
from oneroster.errors import safe_url
from oneroster.model import Category, ClientSettings, OneRosterError

USER_AGENT = "SDM-OneRoster/1.0 (+python-requests)"
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
MAX_REDIRECTS = 5


class EgressAdapter(HTTPAdapter):
    """A requests adapter whose sockets connect only to addresses the egress policy allows."""

    def __init__(self, egress: EgressPolicy, **kwargs: Any) -> None:
        self.egress = egress
        super().__init__(**kwargs)

    def init_poolmanager(self, connections: int, maxsize: int, block: bool = False,
                         **pool_kwargs: Any) -> None:
        self.poolmanager = EgressPoolManager(num_pools=connections, maxsize=maxsize,
                                             block=block, egress=self.egress, **pool_kwargs)


class Observer(Protocol):
    """Hears about retries of one collection's requests, for its progress."""

    def retrying(self) -> None: ...

    def waiting(self, seconds: float) -> None: ...


class Credentials(Protocol):
    """Signs requests to the OneRoster API (OAuth 2 token, OAuth 1 signature or bearer)."""

    refreshable: bool

    def authorizer(self, cancel: threading.Event | None) -> tuple[Any, str | None]: ...

    def invalidate(self, used: str | None) -> None: ...


class RetryableBody(Exception):
    """A 2xx answer whose body is unusable but may be fine on a second try (cut short)."""

    def __init__(self, error: OneRosterError) -> None:
        super().__init__(error.message)
        self.error = error


@dataclass(frozen=True)
class Answer:
    """An HTTP answer, fully read."""

    status: int
    headers: Mapping[str, str]
    body: bytes
    url: str
    elapsed_s: float
    refreshed: bool  # a 401 led to a fresh token before this answer

    @property
    def content_type(self) -> str:
        return self.headers.get("Content-Type", "")


@dataclass
class Call:
    """One request as Transport.send tries it: what to send, and how its tries went."""

    method: str
    url: str
    params: Mapping[str, Any] | None
    data: Mapping[str, str] | None
    auth: Any
    credentials: Credentials | None
    entity: str | None
    token_phase: bool
    cancel: threading.Event | None
    observer: Observer | None
    parse: Callable[[Answer], Any] | None
    redirects: bool
    attempt: int = 0  # tries that failed and counted (rate-limit waits do not)
    rate_waits: int = 0
    refreshed: bool = False  # a 401 led to a fresh token
    used: str | None = None  # the token the latest try was sent with
    place: int | None = None  # once rate-limited, this request's place in line
    started: float = field(default_factory=time.perf_counter)


def origin(url: str) -> tuple[str, str, int | None]:
    """Return a URL's scheme, host and port: what must match for credentials to follow."""
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        port = None
    default = {"http": 80, "https": 443}.get(parts.scheme.lower())
    return parts.scheme.lower(), (parts.hostname or "").lower(), port or default


def resolve_proxy(settings: ClientSettings) -> str | None:
    """Return the proxy URL for the connection's proxy country; refuse when none is set."""
    country = (settings.proxy_country or "").strip().upper()
    if not country:
        return None
    proxies = {key.strip().upper(): value for key, value in settings.proxies.items() if value}
    url = proxies.get(country)
    if not url:
        raise OneRosterError(
            Category.PROXY,
            f"This connection's proxy country is {country}, but no proxy is configured for "
            f"{country}: set SDM_PROXY_{country} to the proxy's URL (for example "
            "http://proxy.example.org:3128) or clear the proxy country. SDM never connects "
            "directly instead.",
        )
    if urlsplit(url).scheme not in ("http", "https", "socks5", "socks5h"):
        raise OneRosterError(
            Category.PROXY,
            f"SDM_PROXY_{country} is not a proxy URL such as http://proxy.example.org:3128",
        )
    return url


def make_session(settings: ClientSettings, proxy: str | None) -> requests.Session:
    """Return a session that goes direct or through the proxy given, egress-checked."""
    session = requests.Session()
    session.trust_env = False  # direct, or the connection's own proxy; never ambient ones
    session.verify = settings.verify_tls
    size = max(1, settings.max_in_flight) + 2
    adapter = EgressAdapter(settings.egress, pool_connections=2, pool_maxsize=size,
                            max_retries=0)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    session.headers.update({"User-Agent": USER_AGENT, "Accept": "application/json"})
    if proxy:
        session.proxies = {"http": proxy, "https": proxy}
    return session


def follow(session: requests.Session, settings: ClientSettings, proxy: str | None,
           method: str, url: str, params: Mapping[str, Any] | None,
           data: Mapping[str, str] | None, auth: Any, timeout: tuple[float, float],
           token_phase: bool, redirects: bool = True) -> requests.Response:
    """Send a request and follow its redirects, checking every hop against the policy.

    Credentials go only to the origin they were meant for: a token request redirected to
    another origin is refused with the address to use instead, and any other request
    follows without its Authorization. With `redirects` False the first answer is the
    answer (the token request follows its own redirects, each hop checked here).
    """
    start = origin(url)
    for hop in range(MAX_REDIRECTS + 1):
        check_destination(settings, proxy, url)
        response = session.request(method, url, params=params, data=data, auth=auth,
                                   timeout=timeout, stream=True, allow_redirects=False)
        location = response.headers.get("Location")
        if not redirects or response.status_code not in REDIRECT_STATUSES or not location:
            return response
        response.close()
        target = urljoin(response.url, location)
        if hop == MAX_REDIRECTS:
            raise OneRosterError(Category.SERVER_ERROR, f"{safe_url(url)} redirected more "
                                 f"than {MAX_REDIRECTS} times", url=safe_url(url))
        if origin(target) != start:
            if token_phase:
                raise OneRosterError(
                    Category.TOKEN_UNREACHABLE,
                    f"The token endpoint redirects to another address, "
                    f"{safe_url(target)}; SDM does not send the Client Secret there on "
                    "its own. If that is the right token endpoint, enter it as the "
                    "Auth URL", url=safe_url(url))
            auth = None
        if response.status_code == 303 or (response.status_code in (301, 302)
                                            and method == "POST"):
            method, data = "GET", None
        url, params = target, None
    raise AssertionError("unreachable")


def check_destination(settings: ClientSettings, proxy: str | None, url: str) -> None:
    """Refuse a hop the policy forbids; through a proxy, resolve here as no socket will."""
    egress = settings.egress
    egress.check_url(url)
    if proxy:
        parts = urlsplit(url)
        try:
            egress.resolve(parts.hostname or "",
                           parts.port or (443 if parts.scheme == "https" else 80))
        except OSError:
            pass  # the proxy resolves names it can reach; only refusals matter here


def read_body(response: requests.Response) -> bytes:
    """Read a whole body in one call (a page is large), with requests' exception types."""
    try:
        return response.raw.read(decode_content=True)
    except urllib3.exceptions.ReadTimeoutError as exc:
        raise requests.exceptions.ReadTimeout(exc, request=response.request) from exc
    except urllib3.exceptions.SSLError as exc:
        raise requests.exceptions.SSLError(exc, request=response.request) from exc
    except urllib3.exceptions.DecodeError as exc:
        raise requests.exceptions.ContentDecodingError(exc, request=response.request) from exc
    except (urllib3.exceptions.ProtocolError, OSError) as exc:
        raise requests.exceptions.ChunkedEncodingError(exc, request=response.request) from exc


def full_url(url: str, params: Mapping[str, Any] | None) -> str:
    """Return the URL with its query, as the server saw it (for error messages)."""
    if not params:
        return url
    return requests.Request("GET", url, params=params).prepare().url or url
