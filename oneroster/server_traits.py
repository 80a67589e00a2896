"""The last step of a connection test: what the first pages taught about the server.

Whether it sends totals (and whether they agree with its records), Link headers, the page
size it honours, and whether it ignores offset, asking for one more page when the first ones
cannot tell.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from oneroster.checklist import OK, WARNING, Budget, Checklist, Probe, count_text
from oneroster.model import ENTITY_LABELS, Category, ClientSettings, OneRosterError

SERVER_STEP = "server"


def learn(sheet: Checklist, settings: ClientSettings, client: Any, clock: Budget,
          pool: ThreadPoolExecutor, probes: list[Probe]) -> None:
    """Sum up the server: version, totals and Link headers, the page size it honours."""
    if sheet.stopped():
        return
    if not probes:
        sheet.skip(SERVER_STEP, "Nothing to learn: no collection answered")
        return
    started = time.monotonic()
    limit = settings.page_size
    totals = _totals_text(probes, limit)
    try:
        ignored = _ignores_offset(sheet, client, clock, pool, probes)
    except OneRosterError as error:
        if error.category == Category.CANCELLED:
            return
        ignored = None
    if ignored is not None:
        sheet.fail(SERVER_STEP, ignored, elapsed_s=time.monotonic() - started)
        return
    try:
        page_size, note, state = _honoured_page_size(sheet, client, clock, pool, probes, limit)
    except OneRosterError:  # cancelled: the step is skipped with the rest
        return
    links = _links_text(probes, page_size, limit, state)
    details = [
        f"Sends totals (X-Total-Count): {totals}",
        f"Sends Link headers: {links}",
        f"Page size: {note}",
    ]
    sheet.learned.update(version=settings.version, sends_totals=totals == "yes",
                         sends_link=links == "yes", page_size_asked=limit,
                         page_size_honoured=page_size)
    summary = (f"OneRoster {settings.version} · totals "
               f"{totals.split('(')[0].split(',')[0].strip()} · "
               f"Link headers {links.split('(')[0].strip()}")
    sheet.complete(SERVER_STEP, state, summary, details=details,
                   elapsed_s=time.monotonic() - started)

def _honoured_page_size(sheet: Checklist, client: Any, clock: Budget, pool: ThreadPoolExecutor,
                        probes: list[Probe], limit: int) -> tuple[int | None, str, str]:
    """Return the page size the server honours, what to say of it, and the step's state.

    Raises the OneRosterError of a cancelled probe; any other failure is a warning.
    """
    page_size, note = _page_size(probes, limit)
    if page_size is not None or note is not None:
        return page_size, note, OK
    try:
        page_size, note = _probe_page_size(sheet, client, clock, pool, probes, limit)
    except OneRosterError as error:
        if error.category == Category.CANCELLED:
            raise
        return None, f"Could not tell: the second page failed ({error.title}).", WARNING
    return page_size, note, OK



def _totals_text(probes: list[Probe], limit: int) -> str:
    """Say whether the server sends totals, and whether they disagree with its records."""
    with_total = [p for p in probes if p.total is not None]
    if len(with_total) == len(probes):
        totals = "yes"
    elif with_total:
        totals = f"on {len(with_total)} of {len(probes)} collections"
    else:
        totals = "no (counts are known only after a full read)"
    full = any(p.count >= limit for p in probes)  # the server serves whole pages
    lying = [p for p in with_total
             if p.total < p.count or (full and p.count < min(p.total, limit))]
    if lying:
        first = lying[0]
        totals += (f", but the one for {ENTITY_LABELS[first.entity].lower()} says "
                   f"{first.total:,} next to {first.count:,} records on a first page of up to "
                   f"{limit:,}: SDM reads to the last page whatever the total says")
    return totals


def _ignores_offset(sheet: Checklist, client: Any, clock: Budget, pool: ThreadPoolExecutor,
                    probes: list[Probe]) -> OneRosterError | None:
    """Ask for the second page of the largest collection that has one: is it the first again?"""
    candidates = [p for p in probes if p.sample_id and p.count and p.more_pages
                  and (p.next_url is None or "offset=" in p.next_url)]
    if not candidates:
        return None
    largest = max(candidates, key=lambda p: p.count)
    page = sheet.call_within(pool, clock, client.get_page, largest.entity,
                             offset=largest.count, limit=largest.limit)
    if page is None or not page.records or page.records[0].sourced_id != largest.sample_id:
        return None
    what = ENTITY_LABELS[largest.entity].lower()
    return OneRosterError(
        Category.INCOMPLETE,
        f"The server ignores offset: asked for {what} from offset {largest.count:,}, it sent "
        f"the first page again. A run could read only the first page of each collection; ask "
        f"the SIS provider how to page through its collections", entity=largest.entity)


def _links_text(probes: list[Probe], page_size: int | None, limit: int, state: str) -> str:
    """Say whether Link headers came; said once the page size is known, never contradicting it."""
    several_pages = any(p.more_pages for p in probes) or (
        page_size is not None and page_size < limit)
    if any(p.has_link for p in probes):
        return "yes"
    if several_pages:
        return "no (SDM pages by offset)"
    if state == WARNING:
        return "not seen on the first pages"
    return "not seen (every collection fit in one page)"


def _page_size(probes: list[Probe], limit: int) -> tuple[int | None, str | None]:
    """Tell the page size from first pages alone, when they show it."""
    if any(p.count >= limit for p in probes):  # whatever the totals of the others say
        return limit, f"{limit} records per page, as asked"
    clamped = [p for p in probes if p.count < limit and p.more_pages]
    if clamped:
        honoured = max(p.count for p in clamped)
        return honoured, (f"asked for {limit}, the server returns at most {honoured} per "
                          "page (SDM adapts)")
    if all(p.total is not None for p in probes):
        return None, f"every collection fits in one page of {limit}"
    return None, None


def _probe_page_size(sheet: Checklist, client: Any, clock: Budget, pool: ThreadPoolExecutor,
                     probes: list[Probe], limit: int) -> tuple[int | None, str]:
    """Ask for a second page of the largest collection without a total: is there more?"""
    candidates = [p for p in probes if p.total is None and p.count > 0]
    if not candidates:
        return None, f"every collection fits in one page of {limit}"
    largest = max(candidates, key=lambda p: p.count)
    page = sheet.call_within(pool, clock, client.get_page, largest.entity,
                             offset=largest.count, limit=limit)
    if not page.records:
        return None, f"every collection fits in one page of {limit}"
    honoured = largest.count
    # The first pages were cut short: their counts are lower bounds.
    for probe in probes:
        if probe.total is None and probe.count == honoured:
            step = sheet.step(probe.entity)
            step.summary = step.summary.replace(count_text(probe),
                                                f"more than {probe.count:,} records")
    return honoured, f"asked for {limit}, the server returns at most {honoured} per page " \
                     "(SDM adapts)"
