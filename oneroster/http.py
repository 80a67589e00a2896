"""HTTP for one connection: requests in flight, retries, rate-limit waits, the time budget.

Every request of a client goes through a Transport. A single try is sent by
oneroster/wire.py (session, proxy, egress, redirects); when to try again is
oneroster/pacing.py. The names of both stay importable from here.
"""

from __future__ import annotations

import math
import random
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

import requests

from oneroster.egress import EgressRefused
from oneroster.errors import classify_exception, label, safe_url, scrub_error, secret_forms
from oneroster.model import Category, ClientSettings, OneRosterError
from oneroster.pacing import (
    MAX_RATE_LIMIT_WAITS,
    MAX_RETRY_AFTER_S,
    RETRY_STATUSES,
    STOP_WAIT_S,
    WaitLine,
    parse_retry_after,
    retryable_exception,
)
from oneroster.wire import (
    MAX_REDIRECTS,
    REDIRECT_STATUSES,
    USER_AGENT,
    Answer,
    Call,
    Credentials,
    EgressAdapter,
    Observer,
    RetryableBody,
    follow,
    full_url,
    make_session,
    origin,
    read_body,
    resolve_proxy,
)

__all__ = [
    "MAX_RATE_LIMIT_WAITS",
    "MAX_REDIRECTS",
    "MAX_RETRY_AFTER_S",
    "REDIRECT_STATUSES",
    "RETRY_STATUSES",
    "STOP_WAIT_S",
    "USER_AGENT",
    "Answer",
    "Credentials",
    "EgressAdapter",
    "Observer",
    "RetryableBody",
    "Transport",
    "WaitLine",
    "origin",
    "parse_retry_after",
    "read_body",
    "resolve_proxy",
]


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
        self.session = make_session(settings, self.proxy)
        self._slots = threading.BoundedSemaphore(max(1, settings.max_in_flight))
        self._deadline: float | None = None
        self._pause_until = 0.0
        self._lock = threading.Lock()
        self._random = random.Random()
        self._line = WaitLine()

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
        call = Call(method, url, params, data, auth, credentials, entity, token_phase, cancel,
                    observer, parse, redirects)
        if retry_of is not None:
            if self.settings.max_retries < 1:
                raise scrub_error(retry_of.error, self.secrets)
            self._again(call)
        while True:
            answer = self._try(call)
            if answer is not None:
                outcome = self._judge(call, answer)
                if outcome is not None:
                    return outcome

    def _try(self, call: Call) -> Answer | None:
        """Send one try of a call; None when it got no answer and is to be tried again."""
        self._check(call.cancel, call.entity, call.url)
        self._respect_pause(call.cancel, call.entity, call.url, call.observer)
        call.used = None
        if call.credentials is not None:
            call.auth, call.used = call.credentials.authorizer(call.cancel)
        if self._line.active:
            call.place = self._line.join(call.place)
            self._line.wait_turn(call.place, call.cancel)
        try:
            return self._attempt(call.method, call.url, call.params, call.data, call.auth,
                                 call.started, call.refreshed, call.token_phase,
                                 call.redirects, call.place)
        except OneRosterError as error:
            raise scrub_error(error, self.secrets) from None
        except EgressRefused as refused:
            raise scrub_error(OneRosterError(
                Category.EGRESS_REFUSED, refused.message, entity=call.entity,
                url=safe_url(call.url)), self.secrets) from None
        except requests.RequestException as exc:
            error = classify_exception(
                exc, url=full_url(call.url, call.params), entity=call.entity,
                token_phase=call.token_phase, connect_timeout=self.settings.connect_timeout,
                read_timeout=self.settings.read_timeout)
            if self._out_of_budget():
                raise self._budget_error(call.entity, call.url, error.message) from None
            if not retryable_exception(exc) or call.attempt >= self.settings.max_retries:
                raise scrub_error(error, self.secrets) from None
            self._again(call)
            return None

    def _judge(self, call: Call, answer: Answer) -> tuple[Answer, Any] | None:
        """Return the outcome of an answer, or None when the call is to be tried again."""
        if answer.status == 401 and call.credentials is not None \
                and call.credentials.refreshable and not call.refreshed:
            call.credentials.invalidate(call.used)
            call.refreshed = True
            return None
        if answer.status in RETRY_STATUSES:
            retry_after = parse_retry_after(answer.headers.get("Retry-After"))
            rate_limited = answer.status == 429 and retry_after is not None
            if rate_limited:
                self._line.activate()
            if rate_limited and call.rate_waits < MAX_RATE_LIMIT_WAITS:
                call.rate_waits += 1
            elif call.attempt < self.settings.max_retries:
                call.attempt += 1
            else:
                return answer, None
            self._backoff(call.attempt, retry_after, call.cancel, call.entity, call.url,
                          call.observer, status=answer.status)
            return None
        if call.parse is None or not 200 <= answer.status < 300:
            return answer, None
        try:
            return answer, call.parse(answer)
        except RetryableBody as problem:
            if call.attempt >= self.settings.max_retries:
                raise scrub_error(problem.error, self.secrets) from None
            self._again(call)
            return None

    def _again(self, call: Call) -> None:
        """Count one more try of a call and wait out its backoff."""
        call.attempt += 1
        self._backoff(call.attempt, None, call.cancel, call.entity, call.url, call.observer)

    def _attempt(self, method: str, url: str, params: Mapping[str, Any] | None,
                 data: Mapping[str, str] | None, auth: Any, started: float,
                 refreshed: bool, token_phase: bool, redirects: bool = True,
                 place: int | None = None) -> Answer:
        timeout = (self.settings.connect_timeout, self._read_timeout())
        with self._slots:
            if place is not None:
                self._line.leave(place)  # the next in line may go as this one is sent
            response = follow(self.session, self.settings, self.proxy, method, url, params,
                              data, auth, timeout, token_phase, redirects)
            try:
                body = read_body(response)
            finally:
                response.close()
        return Answer(response.status_code, response.headers, body, response.url,
                      time.perf_counter() - started, refreshed)

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
