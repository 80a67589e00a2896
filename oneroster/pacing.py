"""When a request is tried again: which answers and errors, how long a server asks to wait.

The retry policy of oneroster/http.py: the statuses and exceptions worth another try, the
Retry-After header, the bounds on waiting, and the line refused requests keep once a server
limits the rate.
"""

from __future__ import annotations

import email.utils
import threading
import time

import requests

from oneroster.errors import is_dns

RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
MAX_RATE_LIMIT_WAITS = 50  # 429s with Retry-After are bounded by this and the time budget
STOP_WAIT_S = 0.25  # how often a request waiting in line looks whether it was cancelled
MAX_RETRY_AFTER_S = 300.0  # a server asking for a longer pause is reported, not waited for


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


def retryable_exception(exc: requests.RequestException) -> bool:
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
