"""Scale benchmark: memory from 50,000 to 200,000 users, and the fetcher on a fast SIS.

For each district size, a standalone sandbox SIS on loopback answers at once (0 ms added
latency: the clients are bound by the processor, and pages come as fast as they can be
taken, which is when memory is most at risk). Against it, each in a fresh process of its own
(bench/_scale_child.py): the parallel fetcher alone, then a whole flow run with its CSV
bundle (SQLite, or the PostgreSQL server of SDM_BENCH_DATABASE_URL). ``fetch_rss_growth`` and
``run_rss_growth`` are the peak resident memory at 200,000 users over the peak at 50,000
(the district grows fourfold, to about a million records), counting the decoder processes
of oneroster/decoding.py as all at the largest one's peak, beside the process's own.

``fast_sis_ratio`` is the fetcher's records per second over a sequential client's (orjson,
the fetcher's page size, rel="next"), in turns in one process against the 50,000-user
district, medians of SDM_BENCH_ROUNDS rounds (3). SDM_BENCH_SCALE_USERS (two sizes, comma
separated) changes the district sizes. Prints one JSON line.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

from bench._sandbox import ROOT, sandbox

SIZES = tuple(int(n) for n in os.environ.get("SDM_BENCH_SCALE_USERS", "50000,200000").split(","))


def child(kind: str, urls: dict) -> dict:
    """Run one measurement in a fresh process and return its JSON line."""
    found = subprocess.run([sys.executable, "-m", "bench._scale_child", kind, json.dumps(urls)],
                           cwd=ROOT, capture_output=True, text=True, check=False)
    if found.returncode != 0:
        raise RuntimeError(f"The {kind} measurement failed:\n{found.stderr[-3000:]}")
    return json.loads(found.stdout.strip().splitlines()[-1])


def growth(small: dict, large: dict) -> float:
    """Return the growth of peak memory, decoder processes included (see _scale_child)."""
    return round(large["all_peak_rss_mb"] / small["all_peak_rss_mb"], 3)


def main() -> None:
    fetches, runs, speed = {}, {}, None
    for users in SIZES:
        with sandbox(users, 0) as urls:
            if speed is None:
                speed = child("speed", urls)
            fetches[users] = child("fetch", urls)
            runs[users] = child("run", urls)
    small, large = SIZES
    print(json.dumps({
        "bench": "scale",
        "database": "postgresql" if os.environ.get("SDM_BENCH_DATABASE_URL") else "sqlite",
        "fetch_rss_growth": growth(fetches[small], fetches[large]),
        "run_rss_growth": growth(runs[small], runs[large]),
        "fast_sis_ratio": speed["ratio"],
        "fast_sis": speed,
        "fetch": {str(users): found for users, found in fetches.items()},
        "run": {str(users): found for users, found in runs.items()},
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }), flush=True)


if __name__ == "__main__":
    main()
