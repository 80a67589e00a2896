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

    Totals are hints, never limits or promises. Rows are addressed by offset; at most
    `window` pages are planned ahead, and only while a trusted total or a rel="last" link
    says rows may be there. Without either, pages are asked for one at a time with the page
    size the server really serves, and a page shorter than that (or empty) is the end. A page
    that comes back short below a total, a rel="next" link or rows already seen further on
    leaves a gap that is asked for again. Rows past a total prove it wrong: it is no longer
    trusted. A page of nothing but the first page's rows means the server ignores offset.

    A full page says rows may follow, whatever the total says: the page after it is asked for
    (a total that the rows reach exactly on a full page may be short of the data). A first
    page shorter than asked for may be the server's page size, or the whole collection under
    a total that lies: one more page is asked for alone, and only a full one opens the window.
    Under a total, the window opens as full pages come back (2, 4, 8 pages in flight...).
    """

    def __init__(self, page_size: int, window: int) -> None:
        self.requested = max(1, page_size)
        self.step = self.requested
        self.window = max(1, window)
        self.total: int | None = None  # the server's latest X-Total-Count: a hint
        self.total_wrong = False  # rows past the total proved it wrong
        self.end = math.inf  # no rows at or past this offset (empty or final short page)
        self.known = 0  # rows are known to exist below this offset
        self.frontier = 0
        self.in_flight = 0
        self.more = False  # one page at a time: the latest page says there may be more
        self.follow = False  # the server pages by cursor URLs: follow rel="next"
        self.started = False
        self.learned = False
        self.bounded = False  # a rel="last" link told where the last page starts
        self.ignored_offset = False  # a later page repeated the first one
        self.probing = False  # the first page was short: one page at a time until one is full
        self.full_pages = 0  # pages that came back full: evidence that more rows follow
        self.rows = 0  # distinct rows received so far

    def first(self) -> Slice:
        """Return the first page to ask for."""
        self.started = True
        self.in_flight = 1
        return Slice(0, self.requested)

    def done(self, page: Slice, received: int, total: int | None,
             links: dict[str, str] | None, has_link: bool, fresh: int | None = None,
             repeated: bool = False) -> list[Slice]:
        """Take one page's outcome and return the pages to ask for next.

        `fresh` is how many of the page's rows were new; `repeated` says the page brought
        nothing but rows of the first page, from an offset past it: the server ignores offset.
        """
        self.in_flight -= 1
        links = links or {}
        nxt = links.get("next")
        first = not self.learned
        if first:
            self._learn_step(received, total, nxt)
        if total is not None:
            self.total = total
        if repeated:
            self.ignored_offset = True
            self.end = min(self.end, page.offset)
            return []
        if self.follow:
            if received and nxt and fresh != 0:
                self.in_flight += 1
                return [Slice(page.offset + received, 0, nxt)]
            return []
        self._read_links(page, received, links, has_link)
        limit = self.requested if first else page.limit
        self._count(page, received, limit, fresh, first)
        todo = []
        self.more = received >= limit or (first and received > 0)
        if 0 < received < limit and not first:
            if self._hinted(page.offset + received):
                todo.append(Slice(page.offset + received, limit - received))
                self.in_flight += 1
            else:
                self.end = min(self.end, page.offset + received)
        return todo + self._more()

    def _count(self, page: Slice, received: int, limit: int, fresh: int | None,
               first: bool) -> None:
        """Learn from a page's rows: where rows are known to exist, or where they end."""
        self.rows += received if fresh is None else fresh
        if received >= limit:
            self.full_pages += 1
            if not first:
                self.probing = False  # the server serves pages of this size: no lone probe
        if received:
            self.known = max(self.known, page.offset + min(received, limit))
            if received >= limit:  # a full page: the next may hold rows, whatever the total
                self.known = max(self.known, page.offset + limit + 1)
            if self.total is not None and max(self.known, self.rows) > self.total:
                self.total_wrong = True
        else:
            self.end = min(self.end, page.offset)

    def dropped(self) -> list[Slice]:
        """Take a planned page that was never asked for, being past the end."""
        self.in_flight -= 1
        return self._more()

    def past_end(self, page: Slice) -> bool:
        """Tell whether a planned page lies past the proven end (so need not be asked for)."""
        return page.url is None and page.offset >= self.end

    def _read_links(self, page: Slice, received: int, links: dict[str, str],
                    has_link: bool) -> None:
        nxt = links.get("next")
        if nxt is not None:
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

    def _hinted(self, offset: int) -> bool:
        """Tell whether anything says rows may exist at or past an offset."""
        return offset < self.known or (self.trusted and offset < (self.total or 0))

    @property
    def trusted(self) -> bool:
        """Whether the total may guide planning: given, and not proved wrong by rows."""
        return self.total is not None and not self.total_wrong

    def _learn_step(self, received: int, total: int | None, nxt: str | None) -> None:
        """Adopt the page size the server actually serves, from the first page."""
        self.learned = True
        if total is None and nxt is not None and query_int(nxt, "offset") is None:
            self.follow = True
            return
        if received > 0:
            self.step = received
            self.probing = received < self.requested and total is not None and total > received
        self.frontier = received if received > 0 else self.requested

    def _more(self) -> list[Slice]:
        """Plan the next pages: within the window, and only where rows may be."""
        if self.trusted and self.total:
            bound = min(self.end, max(self.total, self.known))
            # A total is a hint: pages in flight past the rows seen grow with the full pages
            # that came back (1, 2, 4, 8...), so a total far above the data wastes few.
            width = 1 if self.probing else min(self.window, 1 << min(self.full_pages, 16))
        elif self.bounded:
            bound, width = min(self.end, self.known), self.window
        else:
            bound = self.end if self.more else min(self.end, self.known)
            width = 1
        todo = []
        while self.frontier < bound and self.in_flight < width:
            todo.append(Slice(self.frontier, self.step))
            self.frontier += self.step
            self.in_flight += 1
        return todo

    @property
    def finished(self) -> bool:
        return self.started and self.in_flight == 0
