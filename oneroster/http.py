"""HTTP for one connection: session, proxy, timeouts, requests in flight, retries, time budget."""

from __future__ import annotations

import email.utils
import math
import random
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import urljoin, urlsplit

import requests
import urllib3
from requests.adapters import HTTPAdapter

from oneroster.egress import EgressPolicy, EgressPoolManager, EgressRefused
from oneroster.errors import (
    classify_exception,
    is_dns,
    label,
    safe_url,
    scrub_error,
    secret_forms,
)
from oneroster.model import Category, ClientSettings, OneRosterError

RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
MAX_RATE_LIMIT_WAITS = 50  # 429s with Retry-After are bounded by this and the time budget
STOP_WAIT_S = 0.25  # how often a request waiting in line looks whether it was cancelled
MAX_RETRY_AFTER_S = 300.0  # a server asking for a longer pause is reported, not waited for
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


def origin(url: str) -> tuple[str, str, int | None]:
    """Return a URL's scheme, host and port: what must match for credentials to follow."""
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        port = None
    default = {"http": 80, "https": 443}.get(parts.scheme.lower())
    return parts.scheme.lower(), (parts.hostname or "").lower(), port or default


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


def parse_retry_after(value: str | None) -> float | None:
    """Return the seconds a Retry-After header asks for (delta seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _retryable_exception(exc: requests.RequestException) -> bool:
    """Retry resets, cut-short bodies and read timeouts; fail fast on set-up problems."""
    if isinstance(exc, requests.exceptions.ReadTimeout | requests.exceptions.ChunkedEncodingError):
        return True
    if isinstance(exc, requests.exceptions.ConnectTimeout | requests.exceptions.ProxyError
                  | requests.exceptions.SSLError):
        return False
    if isinstance(exc, requests.exceptions.ConnectionError):
        text = repr(exc)
        return not is_dns(exc) and "Connection refused" not in text \
            and "NewConnectionError" not in text
    return False


class WaitLine:
    """The order in which requests go once the server limits the rate: longest waiting first.

    Without it, requests that wait out a refusal wake together with fresh ones and race for
    what the server lets through; a collection whose page was refused can lose that race
    again and again while another's fresh requests win. In line, a refused request keeps
    the place it took when it first queued, and goes before requests that came later.
    """

    def __init__(self) -> None:
        self._turn = threading.Condition()
        self._places: set[int] = set()
        self._taken = 0
        self.active = False

    def activate(self) -> None:
        """Start lining requests up (the server refused one for its rate)."""
        self.active = True

    def join(self, place: int | None) -> int:
        """Take a place in line, or take back the one held before a refusal."""
        with self._turn:
            if place is None:
                self._taken += 1
                place = self._taken
            self._places.add(place)
            return place

    def wait_turn(self, place: int, cancel: threading.Event | None) -> None:
        """Wait until every request ahead in line is on its way (or stopped waiting)."""
        with self._turn:
            while min(self._places) != place:
                if cancel is not None and cancel.is_set():
                    break
                self._turn.wait(STOP_WAIT_S)

    def leave(self, place: int) -> None:
        """Leave the line: the request is being sent, or given up."""
        with self._turn:
            self._places.discard(place)
            self._turn.notify_all()


class Transport:
    """One connection's HTTP session: every request of the client goes through it."""

    def __init__(self, settings: ClientSettings) -> None:
        self.settings = settings
        self.secrets: set[str] = secret_forms(settings.client_secret, settings.client_id)
        self._proxy_error: OneRosterError | None = None
        try:
            self.proxy = resolve_proxy(settings)
        except OneRosterError as error:
            self.proxy = None
            self._proxy_error = error
        if self.proxy:
            password = urlsplit(self.proxy).password
            if password:
                self.secrets |= secret_forms(password)
        self.session = self._make_session()
        self._slots = threading.BoundedSemaphore(max(1, settings.max_in_flight))
        self._deadline: float | None = None
        self._pause_until = 0.0
        self._lock = threading.Lock()
        self._random = random.Random()
        self._line = WaitLine()

    def _make_session(self) -> requests.Session:
        session = requests.Session()
        session.trust_env = False  # direct, or the connection's own proxy; never ambient ones
        session.verify = self.settings.verify_tls
        size = max(1, self.settings.max_in_flight) + 2
        adapter = EgressAdapter(self.settings.egress, pool_connections=2, pool_maxsize=size,
                                max_retries=0)
        session.mount("http://", adapter)
        session.mount("https://", adapter)
        session.headers.update({"User-Agent": USER_AGENT, "Accept": "application/json"})
        if self.proxy:
            session.proxies = {"http": self.proxy, "https": self.proxy}
        return session

    def close(self) -> None:
        self.session.close()

    def add_secret(self, secret: str) -> None:
        """Scrub a secret learned later (a bearer token) in every form it can take."""
        self.secrets |= secret_forms(secret)

    def start_budget(self) -> None:
        """Start the time budget afresh (a fetch is one budget)."""
        budget = self.settings.time_budget
        self._deadline = time.monotonic() + budget if budget else None

    def remaining(self) -> float | None:
        """Return the seconds left in the time budget, or None when unbounded."""
        if self._deadline is None:
            if not self.settings.time_budget:
                return None
            self.start_budget()
        return self._deadline - time.monotonic()

    def check_proxy(self) -> None:
        """Refuse to send anything when the proxy country has no proxy."""
        if self._proxy_error is not None:
            raise self._proxy_error

    def send(self, method: str, url: str, *, params: Mapping[str, Any] | None = None,
             data: Mapping[str, str] | None = None, auth: Any = None,
             credentials: Credentials | None = None, entity: str | None = None,
             token_phase: bool = False, cancel: threading.Event | None = None,
             observer: Observer | None = None,
             parse: Callable[[Answer], Any] | None = None,
             retry_of: RetryableBody | None = None,
             redirects: bool = True) -> tuple[Answer, Any]:
        """Send a request with retries; return the answer and what `parse` made of a 2xx body.

        With `redirects` False, a redirect is returned as the answer, for the caller to judge.
        `retry_of` is a problem with the body of an earlier answer to this same request, read
        without `parse`: the request is retried as if that answer had come back here.
        """
        self.check_proxy()
        attempt = 0
        rate_waits = 0
        refreshed = False
        started = time.perf_counter()
        if retry_of is not None:
            if self.settings.max_retries < 1:
                raise scrub_error(retry_of.error, self.secrets)
            attempt = 1
            self._backoff(attempt, None, cancel, entity, url, observer)
        place: int | None = None  # once rate-limited, this request's place in line
        while True:
            self._check(cancel, entity, url)
            self._respect_pause(cancel, entity, url, observer)
            used = None
            if credentials is not None:
                auth, used = credentials.authorizer(cancel)
            if self._line.active:
                place = self._line.join(place)
                self._line.wait_turn(place, cancel)
            try:
                answer = self._attempt(method, url, params, data, auth, started, refreshed,
                                       token_phase, redirects, place)
            except OneRosterError as error:
                raise scrub_error(error, self.secrets) from None
            except EgressRefused as refused:
                raise scrub_error(OneRosterError(
                    Category.EGRESS_REFUSED, refused.message, entity=entity,
                    url=safe_url(url)), self.secrets) from None
            except requests.RequestException as exc:
                error = classify_exception(
                    exc, url=_full_url(url, params), entity=entity, token_phase=token_phase,
                    connect_timeout=self.settings.connect_timeout,
                    read_timeout=self.settings.read_timeout)
                if self._out_of_budget():
                    raise self._budget_error(entity, url, error.message) from None
                if not _retryable_exception(exc) or attempt >= self.settings.max_retries:
                    raise scrub_error(error, self.secrets) from None
                attempt += 1
                self._backoff(attempt, None, cancel, entity, url, observer)
                continue
            if answer.status == 401 and credentials is not None and credentials.refreshable \
                    and not refreshed:
                credentials.invalidate(used)
                refreshed = True
                continue
            if answer.status in RETRY_STATUSES:
                retry_after = parse_retry_after(answer.headers.get("Retry-After"))
                rate_limited = answer.status == 429 and retry_after is not None
                if rate_limited:
                    self._line.activate()
                if rate_limited and rate_waits < MAX_RATE_LIMIT_WAITS:
                    rate_waits += 1
                elif attempt < self.settings.max_retries:
                    attempt += 1
                else:
                    return answer, None
                self._backoff(attempt, retry_after, cancel, entity, url, observer,
                              status=answer.status)
                continue
            if parse is None or not 200 <= answer.status < 300:
                return answer, None
            try:
                return answer, parse(answer)
            except RetryableBody as problem:
                if attempt >= self.settings.max_retries:
                    raise scrub_error(problem.error, self.secrets) from None
                attempt += 1
                self._backoff(attempt, None, cancel, entity, url, observer)

    def _attempt(self, method: str, url: str, params: Mapping[str, Any] | None,
                 data: Mapping[str, str] | None, auth: Any, started: float,
                 refreshed: bool, token_phase: bool, redirects: bool = True,
                 place: int | None = None) -> Answer:
        timeout = (self.settings.connect_timeout, self._read_timeout())
        with self._slots:
            if place is not None:
                self._line.leave(place)  # the next in line may go as this one is sent
            response = self._follow(method, url, params, data, auth, timeout, token_phase,
                                    redirects)
            try:
                body = read_body(response)
            finally:
                response.close()
        return Answer(response.status_code, response.headers, body, response.url,
                      time.perf_counter() - started, refreshed)

    def _follow(self, method: str, url: str, params: Mapping[str, Any] | None,
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
            self._check_destination(url)
            response = self.session.request(method, url, params=params, data=data, auth=auth,
                                            timeout=timeout, stream=True,
                                            allow_redirects=False)
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

    def _check_destination(self, url: str) -> None:
        """Refuse a hop the policy forbids; through a proxy, resolve here as no socket will."""
        egress = self.settings.egress
        egress.check_url(url)
        if self.proxy:
            parts = urlsplit(url)
            try:
                egress.resolve(parts.hostname or "",
                               parts.port or (443 if parts.scheme == "https" else 80))
            except OSError:
                pass  # the proxy resolves names it can reach; only refusals matter here

    def _read_timeout(self) -> float:
        remaining = self.remaining()
        if remaining is None:
            return self.settings.read_timeout
        return max(0.5, min(self.settings.read_timeout, remaining))

    def _out_of_budget(self) -> bool:
        remaining = self.remaining()
        return remaining is not None and remaining <= 0

    def _budget_error(self, entity: str | None, url: str, last: str | None) -> OneRosterError:
        text = (f"Gave up on {label(entity)} after the time budget of "
                f"{self.settings.time_budget:g} s ran out")
        if last:
            text += f"; the last problem: {last}"
        return scrub_error(OneRosterError(Category.BUDGET_EXCEEDED, text, entity=entity,
                                          url=safe_url(url)), self.secrets)

    def _check(self, cancel: threading.Event | None, entity: str | None, url: str) -> None:
        if cancel is not None and cancel.is_set():
            raise OneRosterError(Category.CANCELLED, f"Reading {label(entity)} was cancelled",
                                 entity=entity)
        if self._out_of_budget():
            raise self._budget_error(entity, url, None)

    def _respect_pause(self, cancel: threading.Event | None, entity: str | None, url: str,
                       observer: Observer | None) -> None:
        """Wait while the server asked every request to hold off (a shared Retry-After)."""
        delay = self._pause_until - time.monotonic()
        if delay > 0:
            remaining = self.remaining()
            if remaining is not None and delay >= remaining:
                raise scrub_error(OneRosterError(
                    Category.RATE_LIMITED,
                    f"The server asked SDM to wait {math.ceil(delay)} s (429 Too Many Requests, "
                    f"Retry-After) before reading more of {label(entity)}; the time budget of "
                    f"{self.settings.time_budget:g} s ran out first",
                    entity=entity, status=429, url=safe_url(url)), self.secrets)
            self._wait(delay, cancel, entity, url, observer, rate_limited=True, count=False)

    def rate_limit_wait(self) -> float:
        """Return how long every request is still held back by a server's Retry-After."""
        return max(0.0, self._pause_until - time.monotonic())

    def _backoff(self, attempt: int, retry_after: float | None, cancel: threading.Event | None,
                 entity: str | None, url: str, observer: Observer | None,
                 status: int | None = None) -> None:
        if retry_after is not None:
            delay = retry_after
            if delay <= MAX_RETRY_AFTER_S:
                with self._lock:
                    self._pause_until = max(self._pause_until, time.monotonic() + delay)
        else:
            ceiling = min(self.settings.backoff_max,
                          self.settings.backoff_base * (2 ** (attempt - 1)))
            with self._lock:
                delay = ceiling * (0.5 + self._random.random() / 2)
        remaining = self.remaining()
        too_long = retry_after is not None and retry_after > MAX_RETRY_AFTER_S
        if too_long or (remaining is not None and delay >= remaining):
            if status == 429 or too_long:
                raise scrub_error(OneRosterError(
                    Category.RATE_LIMITED,
                    f"The server asked SDM to wait {math.ceil(delay)} s (429 Too Many "
                    f"Requests, Retry-After) before reading more of {label(entity)}, longer "
                    "than SDM waits" + ("" if too_long else " within its time budget"),
                    entity=entity, status=status, url=safe_url(url)), self.secrets)
            raise self._budget_error(entity, url, f"HTTP {status}" if status else None)
        self._wait(delay, cancel, entity, url, observer, rate_limited=status == 429)

    def _wait(self, delay: float, cancel: threading.Event | None, entity: str | None, url: str,
              observer: Observer | None, *, rate_limited: bool, count: bool = True) -> None:
        if observer is not None:
            if count:
                observer.retrying()
            if rate_limited:
                observer.waiting(delay)
        try:
            if cancel is None:
                time.sleep(delay)
            elif cancel.wait(delay):
                self._check(cancel, entity, url)
        finally:
            if observer is not None and rate_limited:
                observer.waiting(0.0)


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


def _full_url(url: str, params: Mapping[str, Any] | None) -> str:
    if not params:
        return url
    return requests.Request("GET", url, params=params).prepare().url or url
