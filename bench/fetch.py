"""Fetch benchmark: the parallel fetcher against the clients people would write instead.

A standalone sandbox SIS on loopback adds 50 ms to every request and serves about 50,000
users and 200,000 enrollments. In one run, one after another, against the same server:

- ``sequential_default``: one request at a time, following rel="next" at the server's
  default page size (what existing clients do);
- ``sequential_1000``: the same at the fetcher's page size;
- ``offsets_8_threads``: X-Total-Count from each collection's first page, then every offset
  on 8 threads, parsed with orjson;
- ``floor_no_parse``: the same requests with the bodies read and thrown away, parsing
  nothing: what the bytes alone cost;
- ``fetcher``: SDM's parallel fetcher, 1,000-record pages and 8 requests in flight.

``speedup_vs_best_baseline`` is the fastest of the three clients' time over the fetcher's
(the floor is no client: it reads no record). ``efficiency`` is the ideal time (pages ×
latency ÷ requests in flight) over the fetcher's. ``identical`` says every client got the
same records (bench/_clients.py fingerprints) and as many as the server holds.

The machine may be shared, so the four fast readings are taken ROUNDS times (3 unless
SDM_BENCH_ROUNDS says otherwise), taking turns, and each one's median is reported; the
sequential client at the server's default page size, minutes long, is read once.
Prints one JSON line.
"""

from __future__ import annotations

import json
import os
import resource
import statistics

from bench._clients import fetcher, offsets, sequential
from bench._sandbox import sandbox
from webapp.tuning import tune_for_background_work

USERS = int(os.environ.get("SDM_BENCH_USERS", 50_000))
LATENCY_MS = 50
PAGE_SIZE = 1000
MAX_IN_FLIGHT = 8
ROUNDS = int(os.environ.get("SDM_BENCH_ROUNDS", 3))


def main() -> None:
    tune_for_background_work()  # as `flask sdm worker` does: see webapp/tuning.py
    with sandbox(USERS, LATENCY_MS) as urls:
        readings = [[sequential(urls)]]
        for _ in range(ROUNDS):
            readings.append([sequential(urls, PAGE_SIZE),
                             offsets(urls, PAGE_SIZE, MAX_IN_FLIGHT),
                             offsets(urls, PAGE_SIZE, MAX_IN_FLIGHT, parse=False),
                             fetcher(urls, PAGE_SIZE, MAX_IN_FLIGHT)])
        load = os.getloadavg()  # the machine may be shared: say how busy it was
    every = [r for one in readings for r in one]
    seconds = {name: statistics.median(r.seconds for r in every if r.name == name)
               for name in dict.fromkeys(r.name for r in every)}
    mine = readings[-1][-1]
    clients = [name for name in seconds if name not in ("fetcher", "floor_no_parse")]
    best = min(clients, key=seconds.__getitem__)
    expected = {e: n for e, n in urls["records"].items() if e in mine.found.counts}
    identical = all(r.found.key() == mine.found.key() for r in every if r.found) \
        and dict(mine.found.counts) == expected
    ideal = mine.pages * LATENCY_MS / 1000 / MAX_IN_FLIGHT
    print(json.dumps({
        "bench": "fetch",
        "records": mine.found.records,
        "seconds": {name: round(value, 2) for name, value in seconds.items()},
        "pages": {r.name: r.pages for r in readings[-1] + readings[0]},
        "best_baseline": best,
        "speedup_vs_best_baseline": round(seconds[best] / seconds["fetcher"], 2),
        "vs_floor": round(seconds["fetcher"] / seconds["floor_no_parse"], 2),
        "ideal_s": round(ideal, 2),
        "efficiency": round(ideal / seconds["fetcher"], 2),
        "rounds": ROUNDS,
        "identical": identical,
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "latency_ms": LATENCY_MS,
        "page_size": PAGE_SIZE,
        "max_in_flight": MAX_IN_FLIGHT,
        "server_records": urls["records"],
        "load_average": [round(x, 2) for x in load],
    }), flush=True)


if __name__ == "__main__":
    main()
