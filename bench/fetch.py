"""Fetch benchmark: a sequential Link-following client against the parallel fetcher.

A standalone sandbox SIS on loopback adds 50 ms to every request and serves about 50,000
users and 200,000 enrollments. The sequential client reads each collection the way existing
clients do: the server's default page size, one request at a time, following rel="next".
The parallel fetcher reads the same collections with 1,000-record pages and 8 requests in
flight. Both record sets are compared through sorted 64-bit digests of each record's exact JSON
(both runs are in one process, so Python's hash of the bytes is the same for equal records).
Prints one JSON line.
"""

from __future__ import annotations

import json
import os
import resource
import threading
import time
from collections.abc import Iterable
from operator import attrgetter

import orjson
import requests

from bench._sandbox import sandbox
from oneroster.client import OneRosterClient
from oneroster.model import ENTITIES, ClientSettings, Record

USERS = 50_000
LATENCY_MS = 50
PAGE_SIZE = 1000
MAX_IN_FLIGHT = 8
CLIENT_ID, SECRET = "demo", "sandbox-secret"
RAW = attrgetter("raw")


def digests(records: Iterable[dict]) -> list[int]:
    """Return 64-bit fingerprints of records: their exact JSON, keys in the server's order."""
    return list(map(hash, map(orjson.dumps, records)))


def sequential(urls: dict) -> tuple[list[int], int, float]:
    """Read every collection one page at a time, following Link headers."""
    started = time.perf_counter()
    session = requests.Session()
    token = session.post(urls["token_url"], data={"grant_type": "client_credentials"},
                         auth=(CLIENT_ID, SECRET), timeout=30).json()["access_token"]
    session.headers["Authorization"] = f"Bearer {token}"
    found: list[int] = []
    pages = 0
    for entity in ENTITIES:
        url: str | None = f"{urls['base_url']}/{entity}"
        while url:
            response = session.get(url, timeout=30)
            response.raise_for_status()
            found.extend(digests(response.json()[entity]))
            pages += 1
            url = response.links.get("next", {}).get("url")
    session.close()
    return found, pages, time.perf_counter() - started


def parallel(urls: dict) -> tuple[list[int], int, float]:
    """Read every collection with the parallel fetcher."""
    settings = ClientSettings(base_url=urls["base_url"], client_id=CLIENT_ID,
                              client_secret=SECRET, auth_url=urls["token_url"],
                              page_size=PAGE_SIZE, max_in_flight=MAX_IN_FLIGHT)
    found: list[int] = []
    lock = threading.Lock()

    def sink(_entity: str, records: list[Record]) -> None:
        fingerprints = digests(map(RAW, records))
        with lock:
            found.extend(fingerprints)

    started = time.perf_counter()
    with OneRosterClient(settings) as client:
        result = client.fetch(ENTITIES, sink=sink)
    elapsed = time.perf_counter() - started
    if not result.ok:
        failures = {e: r.error.public_message for e, r in result.results.items() if r.error}
        raise RuntimeError(f"The parallel fetch failed: {failures}")
    return found, sum(r.pages for r in result.results.values()), elapsed


def main() -> None:
    with sandbox(USERS, LATENCY_MS) as urls:
        seq_digests, seq_pages, seq_s = sequential(urls)
        seq_digests.sort()
        load = os.getloadavg()[0]  # the machine may be shared: say how busy it was
        par_digests, par_pages, par_s = parallel(urls)
        par_digests.sort()
    ideal = par_pages * LATENCY_MS / 1000 / MAX_IN_FLIGHT
    print(json.dumps({
        "bench": "fetch",
        "records": len(par_digests),
        "pages": par_pages,
        "sequential_pages": seq_pages,
        "sequential_s": round(seq_s, 2),
        "parallel_s": round(par_s, 2),
        "speedup": round(seq_s / par_s, 1),
        "ideal_s": round(ideal, 2),
        "efficiency": round(ideal / par_s, 2),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "identical": seq_digests == par_digests,
        "latency_ms": LATENCY_MS,
        "page_size": PAGE_SIZE,
        "max_in_flight": MAX_IN_FLIGHT,
        "server_records": urls["records"],
        "load_average_1m": round(load, 2),
    }), flush=True)


if __name__ == "__main__":
    main()
