"""The clients benchmarks compare: plain baselines written the way people write them, and SDM's.

Every client reads the five bulk collections of a sandbox SIS and returns a Reading: how many
pages it asked for, how long it took, and a Fingerprint of the records it got. A fingerprint
is, per collection, the number of records and the sum of a 64-bit digest of each record's
exact JSON (keys in the server's order): equal fingerprints mean the same records, in any
order, and it costs the same small memory for ten records or ten million, so it does not
weigh on the memory a benchmark measures. Digests use Python's hash of the bytes, the same
for equal bytes within one process: compare fingerprints made in one process only.
"""

from __future__ import annotations

import os
import threading
import time
from collections import Counter
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from operator import attrgetter

import orjson
import requests

from oneroster.client import OneRosterClient
from oneroster.egress import EgressPolicy
from oneroster.model import ENTITIES, ClientSettings, Record
from oneroster.paging import parse_total

CLIENT_ID, SECRET = "demo", "sandbox-secret"
DECODE_PROCESSES = int(os.environ.get("SDM_DECODE_PROCESSES", os.cpu_count() or 1))
MASK = (1 << 64) - 1
RAW = attrgetter("raw")
JSON_OF = attrgetter("json")


def serialised(datas: list) -> list[bytes]:
    """Return records' JSON as a store writes it: held already (a decoded page's, see
    oneroster/decoding.py), or written by orjson."""
    try:
        return list(map(JSON_OF, datas))
    except AttributeError:
        return list(map(orjson.dumps, datas))


@dataclass
class Fingerprint:
    """Per collection: how many records, and the sum of their digests."""

    counts: Counter = field(default_factory=Counter)
    sums: Counter = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, entity: str, records: Iterable[Mapping]) -> None:
        """Count records of one collection (mappings, serialised as the server sent them)."""
        digests = list(map(hash, serialised(list(records))))
        total = sum(digests)
        with self.lock:
            self.counts[entity] += len(digests)
            self.sums[entity] = (self.sums[entity] + total) & MASK

    def key(self) -> dict[str, tuple[int, int]]:
        return {e: (self.counts[e], self.sums[e]) for e in sorted(self.counts)}

    @property
    def records(self) -> int:
        return sum(self.counts.values())


@dataclass
class Reading:
    """What one client read and how long it took."""

    name: str
    pages: int
    seconds: float
    found: Fingerprint | None  # None for the floor, which parses nothing

    @property
    def records_per_s(self) -> float:
        return (self.found.records if self.found else 0) / self.seconds


def token(urls: dict) -> str:
    """Return a bearer token for the sandbox's demo client."""
    answer = requests.post(urls["token_url"], data={"grant_type": "client_credentials"},
                           auth=(CLIENT_ID, SECRET), timeout=30)
    answer.raise_for_status()
    return answer.json()["access_token"]


def sequential(urls: dict, page_size: int | None = None) -> Reading:
    """Read every collection one page at a time, following rel="next" (orjson parses).

    Without `page_size` the client asks for no limit: the server's default page size, which
    is what existing clients do.
    """
    found = Fingerprint()
    pages = 0
    started = time.perf_counter()
    with requests.Session() as session:
        session.headers["Authorization"] = f"Bearer {token(urls)}"
        for entity in ENTITIES:
            url: str | None = f"{urls['base_url']}/{entity}"
            params = {"limit": page_size} if page_size else None
            while url:
                answer = session.get(url, params=params, timeout=30)
                answer.raise_for_status()
                found.add(entity, orjson.loads(answer.content)[entity])
                pages += 1
                url, params = answer.links.get("next", {}).get("url"), None
    name = f"sequential_{page_size}" if page_size else "sequential_default"
    return Reading(name, pages, time.perf_counter() - started, found)


def offsets(urls: dict, page_size: int, threads: int, parse: bool = True) -> Reading:
    """Read the first page of each collection, then every other offset on `threads` threads.

    The plain parallel client: X-Total-Count says how many pages there are. With `parse`
    False the bodies are read and thrown away: the floor any client pays for the bytes.
    """
    found = Fingerprint() if parse else None
    local = threading.local()
    bearer = f"Bearer {token(urls)}"
    sessions: list[requests.Session] = []

    def get(entity: str, offset: int) -> int | None:
        session = getattr(local, "session", None)
        if session is None:
            session = local.session = requests.Session()
            session.headers["Authorization"] = bearer
            sessions.append(session)
        answer = session.get(f"{urls['base_url']}/{entity}",
                             params={"limit": page_size, "offset": offset}, timeout=30)
        answer.raise_for_status()
        if found is not None:
            found.add(entity, orjson.loads(answer.content)[entity])
        return parse_total(answer.headers)

    started = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        totals = list(pool.map(get, ENTITIES, [0] * len(ENTITIES)))
        rest = [(entity, offset) for entity, total in zip(ENTITIES, totals, strict=True)
                for offset in range(page_size, total or 0, page_size)]
        if rest:
            list(pool.map(get, *zip(*rest, strict=True)))
    elapsed = time.perf_counter() - started
    for session in sessions:
        session.close()
    name = f"offsets_{threads}_threads" if parse else "floor_no_parse"
    return Reading(name, len(ENTITIES) + len(rest), elapsed, found)


def fetcher(urls: dict, page_size: int, max_in_flight: int,
            decode_processes: int = DECODE_PROCESSES) -> Reading:
    """Read every collection with SDM's parallel fetcher."""
    settings = ClientSettings(base_url=urls["base_url"], client_id=CLIENT_ID,
                              client_secret=SECRET, auth_url=urls["token_url"],
                              page_size=page_size, max_in_flight=max_in_flight,
                              decode_processes=decode_processes,
                              egress=EgressPolicy(allow_loopback=True))
    found = Fingerprint()

    def sink(entity: str, records: list[Record]) -> None:
        found.add(entity, map(RAW, records))

    started = time.perf_counter()
    with OneRosterClient(settings) as client:
        result = client.fetch(ENTITIES, sink=sink)
    elapsed = time.perf_counter() - started
    if not result.ok:
        failures = {e: r.error.public_message for e, r in result.results.items() if r.error}
        raise RuntimeError(f"The parallel fetch failed: {failures}")
    return Reading("fetcher", sum(r.pages for r in result.results.values()), elapsed, found)
