"""One measurement of the scale benchmark, in a process of its own so its peak memory is its own.

``python -m bench._scale_child KIND URLS`` with KIND ``fetch`` (the fetcher alone, records
fingerprinted and let go), ``run`` (a whole flow run with its CSV bundle, as bench/run.py
runs it) or ``speed`` (the sequential orjson client and the fetcher, in turns) and URLS the
sandbox's JSON line. Prints one JSON line.
"""

from __future__ import annotations

import json
import os
import resource
import statistics
import sys
import tempfile
from pathlib import Path

from bench._clients import DECODE_PROCESSES, fetcher, sequential
from webapp.tuning import tune_for_background_work

PAGE_SIZE = 1000
MAX_IN_FLIGHT = 8
ROUNDS = int(os.environ.get("SDM_BENCH_ROUNDS", 3))


def peak_rss_mb() -> float:
    """Return the process's peak resident memory so far."""
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def memory() -> dict:
    """Return the peaks of this process and of its largest decoder process (oneroster/
    decoding.py; 0 if none started), and a bound on all of them together: this process's
    peak plus every decoder at the largest one's peak."""
    decoder = round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, 1)
    processes = DECODE_PROCESSES if decoder else 0
    return {"peak_rss_mb": peak_rss_mb(), "decoder_peak_rss_mb": decoder,
            "decoders": processes, "all_peak_rss_mb": round(peak_rss_mb() + processes * decoder, 1)}


def fetch(urls: dict) -> dict:
    reading = fetcher(urls, PAGE_SIZE, MAX_IN_FLIGHT)
    return {"seconds": round(reading.seconds, 2), "records": reading.found.records,
            **memory()}


def run(urls: dict) -> dict:
    from bench.run import full_run, make_app, make_flow
    from tests.fixtures.databases import own_database

    with tempfile.TemporaryDirectory(prefix="sdm-bench-scale-") as tmp, \
            own_database(os.environ.get("SDM_BENCH_DATABASE_URL"), "sdm_bench_scale",
                         Path(tmp) / "sdm.db") as database_url:
        app = make_app(Path(tmp), database_url)
        flow_id, user_id = make_flow(app, urls)
        run_s, total_s, facts, stages = full_run(app, flow_id, user_id)
        with app.app_context():
            from webapp.extensions import db
            db.engine.dispose()  # before the throwaway database is dropped
    return {"run_s": round(run_s, 2), "with_bundle_s": round(total_s, 2),
            "records": sum(facts["counts"].values()), "status": facts["status"],
            "bundle": (facts["output"] or {}).get("state"), "stages": stages, **memory()}


def speed(urls: dict) -> dict:
    plain, mine = [], []
    for _ in range(ROUNDS):
        plain.append(sequential(urls, PAGE_SIZE))
        mine.append(fetcher(urls, PAGE_SIZE, MAX_IN_FLIGHT))
    key = mine[0].found.key()
    plain_rate = statistics.median(r.records_per_s for r in plain)
    mine_rate = statistics.median(r.records_per_s for r in mine)
    return {"sequential_records_per_s": round(plain_rate),
            "fetcher_records_per_s": round(mine_rate),
            "ratio": round(mine_rate / plain_rate, 2),
            "identical": all(r.found.key() == key for r in plain + mine), "rounds": ROUNDS}


def main(kind: str, urls: str) -> None:
    tune_for_background_work()  # as `flask sdm worker` does: see webapp/tuning.py
    found = {"fetch": fetch, "run": run, "speed": speed}[kind](json.loads(urls))
    print(json.dumps(found), flush=True)


if __name__ == "__main__":
    main(*sys.argv[1:])
