"""How the sandbox misbehaves on purpose: random faults, rate limits, and its request counts.

A profile (oneroster/sandbox/profiles.py) says how often; these keep the state that decides
which request is struck, which client is over its rate, and how many requests each made.
"""

from __future__ import annotations

import random
import socket
import threading
import time
from collections import Counter, deque

from werkzeug.wrappers import Request, Response

from oneroster.sandbox.answers import html_page, imsx


class Stats:
    """How many requests of each kind each client made."""

    def __init__(self) -> None:
        self._counts: Counter[tuple[str, str]] = Counter()
        self._lock = threading.Lock()
        self.total = 0

    def add(self, client_id: str, kind: str) -> None:
        with self._lock:
            self._counts[(client_id, kind)] += 1

    def seen(self) -> None:
        with self._lock:
            self.total += 1

    def count(self, client_id: str | None = None, kind: str | None = None) -> int:
        """Return the number of requests, optionally of one client and one kind."""
        with self._lock:
            return sum(n for (c, k), n in self._counts.items()
                       if (client_id is None or c == client_id) and (kind is None or k == kind))


class Faults:
    """Random faults that never hit the same request twice in a row, so a retry succeeds."""

    def __init__(self, seed: int) -> None:
        self._random = random.Random(seed)
        self._struck: set[tuple[str, ...]] = set()
        self._lock = threading.Lock()

    def strike(self, key: tuple[str, ...], rate: float) -> bool:
        with self._lock:
            if key in self._struck:
                self._struck.discard(key)
                return False
            if self._random.random() < rate:
                if len(self._struck) > 100000:
                    self._struck.clear()
                self._struck.add(key)
                return True
            return False

    def choice(self, options: tuple[str, ...]) -> str:
        with self._lock:
            return self._random.choice(options)


class RateWindow:
    """Requests per client over the last second (a sliding window)."""

    def __init__(self) -> None:
        self._seen: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def over(self, client_id: str, limit: int) -> bool:
        now = time.monotonic()
        with self._lock:
            seen = self._seen.setdefault(client_id, deque())
            while seen and now - seen[0] >= 1.0:
                seen.popleft()
            if len(seen) >= limit:
                return True
            seen.append(now)
            return False


def fault_answer(request: Request, faults: Faults) -> Response:
    """Answer as a failing server would: a 5xx, or a connection dropped mid-request."""
    kind = faults.choice(("503", "500", "502", "reset"))
    sock = request.environ.get("werkzeug.socket")
    if kind == "reset" and sock is not None:
        try:
            sock.shutdown(socket.SHUT_RDWR)  # the client sees the connection drop
        except OSError:
            pass
        return Response(b"", 500)
    if kind == "502":
        return html_page(502, "502 Bad Gateway", "The upstream server did not answer.")
    if kind == "500":
        return imsx(500, "internal_server_error", "Something went wrong in the sandbox")
    return imsx(503, "server_busy", "The sandbox is busy; try again")
