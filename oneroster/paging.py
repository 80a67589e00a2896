"""Paging that survives real servers: totals, Link headers, clamped limits, no headers at all."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import parse_qs, urljoin, urlsplit

_LINK_SPLIT = re.compile(r",\s*(?=<|https?://|/)")


def parse_link(header: str | None, base: str = "") -> dict[str, str]:
    """Return the Link header's URLs by rel, with or without angle brackets."""
    links: dict[str, str] = {}
    if not header:
        return links
    for part in _LINK_SPLIT.split(header.strip()):
        pieces = part.split(";")
        url = pieces[0].strip().strip("<>").strip()
        if not url:
            continue
        for param in pieces[1:]:
            key, _, value = param.partition("=")
            if key.strip().lower() == "rel":
                for rel in value.strip().strip("\"'").split():
                    links.setdefault(rel.lower(), urljoin(base, url) if base else url)
    return links


def parse_total(headers: Mapping[str, str]) -> int | None:
    """Return X-Total-Count as a number, or None when absent or unreadable."""
    value = headers.get("X-Total-Count")
    if value is None:
        return None
    try:
        total = int(str(value).strip())
    except ValueError:
        return None
    return total if total >= 0 else None


def query_int(url: str, name: str) -> int | None:
    """Return an integer query parameter of a URL (offset, limit), if present."""
    values = parse_qs(urlsplit(url).query).get(name)
    if not values:
        return None
    try:
        return int(values[0])
    except ValueError:
        return None


@dataclass(frozen=True)
class Slice:
    """One page to ask for: rows [offset, offset + limit), or a server's next URL to follow."""

    offset: int
    limit: int
    url: str | None = None


class Planner:
    """Decide which pages of one collection to ask for next, from what each page revealed.

    Rows are addressed by offset. A page that comes back short leaves a gap that is asked
    for again; an empty page or a Link header without rel="next" marks the end; a total or a
    rel="last" link says how far pages may be fetched side by side. Without any of those,
    one page at a time is fetched until a full page proves the server clamps its pages, and
    then up to `window` pages ahead.
    """

    def __init__(self, page_size: int, window: int) -> None:
        self.requested = max(1, page_size)
        self.step = self.requested
        self.window = max(1, window)
        self.total: int | None = None
        self.end = math.inf  # no rows at or past this offset (empty page, no rel="next")
        self.known = 0  # rows are known to exist below this offset
        self.frontier = 0
        self.in_flight = 0
        self.open = False  # a full page proved there is more than one page
        self.follow = False  # the server pages by cursor URLs: follow rel="next"
        self.started = False
        self.learned = False
        self.bounded = False  # a rel="last" link told where the last page starts

    def first(self) -> Slice:
        """Return the first page to ask for."""
        self.started = True
        self.in_flight = 1
        return Slice(0, self.requested)

    @property
    def upper(self) -> float:
        return min(self.end, self.total if self.total is not None else math.inf)

    def done(self, page: Slice, received: int, total: int | None,
             links: dict[str, str] | None, has_link: bool, fresh: int | None = None) -> list[Slice]:
        """Take one page's outcome and return the pages to ask for next.

        `fresh` is how many of the page's rows were new; a page of nothing but rows already
        seen, from a server that gives no total, means it ignores offset: stop there.
        """
        self.in_flight -= 1
        links = links or {}
        nxt = links.get("next")
        first = not self.learned
        if first:
            self._learn_step(received, total, nxt)
        if total is not None:
            self.total = total
            self.known = max(self.known, total)
        if self.follow:
            if received and nxt and fresh != 0:
                self.in_flight += 1
                return [Slice(page.offset + received, 0, nxt)]
            return []
        limit = self.step if first else page.limit
        if received:
            self.known = max(self.known, page.offset + received)
            if received >= page.limit:
                self.open = True
            if fresh == 0 and self.total is None:
                self.end = min(self.end, page.offset)
        else:
            self.end = min(self.end, page.offset)
        if nxt is not None:
            self.open = True
            next_offset = query_int(nxt, "offset")
            if next_offset is not None and next_offset < self.end:
                self.known = max(self.known, next_offset + 1)
        elif has_link:
            self.end = min(self.end, page.offset + received)
        last = links.get("last")
        last_offset = query_int(last, "offset") if last else None
        if last_offset is not None and last_offset < self.end:
            self.known = max(self.known, last_offset + 1)
            self.bounded = True  # nothing to guess past the last page
        todo = []
        if 0 < received < limit and page.offset + received < self.upper:
            todo.append(Slice(page.offset + received, limit - received))
            self.in_flight += 1
        return todo + self._more()

    def _learn_step(self, received: int, total: int | None, nxt: str | None) -> None:
        """Adopt the page size the server actually serves, from the first page."""
        self.learned = True
        if total is None and nxt is not None and query_int(nxt, "offset") is None:
            self.follow = True
            return
        if received > 0:
            self.step = received
        self.frontier = received if received > 0 else self.requested

    def _more(self) -> list[Slice]:
        todo = []
        while self.frontier < self.upper and (
                self.frontier < self.known
                or (not self.bounded
                    and (self.in_flight < self.window if self.open else self.in_flight == 0))):
            todo.append(Slice(self.frontier, self.step))
            self.frontier += self.step
            self.in_flight += 1
        return todo

    @property
    def finished(self) -> bool:
        return self.started and self.in_flight == 0
