"""Workers benchmark: the same four flow runs with one RQ worker process, then with two.

PostgreSQL (SDM_BENCH_DATABASE_URL, by default the local server) stores the records in a
throwaway database; a Redis server of the benchmark's own on a free port holds the queue; a
standalone sandbox SIS on loopback adds 50 ms to every request. Four flows read the same
district through source-oneroster and write the CSV bundle. Each round queues the four runs,
then starts `flask sdm worker --burst` processes and times them until the queue is empty
and every run has ended (bundles written). ``ratio`` is two_workers_s ÷ one_worker_s (the
baseline: one worker, same runs, same machine, same process). Prints one JSON line with the
load average before and after.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from cryptography.fernet import Fernet
from sqlalchemy import select

from bench._sandbox import sandbox
from bench.run import make_app, make_flow
from tests.fixtures.databases import own_database
from tests.fixtures.redis_server import redis_server

ROOT = Path(__file__).resolve().parent.parent
USERS = 3_000
LATENCY_MS = 50
RUNS = 4
DEFAULT_SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


def flows(app, urls: dict) -> list[int]:
    """Create the four flows (one organization, one connection); return their ids."""
    from webapp.extensions import db
    from webapp.models import Flow

    first, _ = make_flow(app, urls)
    with app.app_context():
        template = db.session.get(Flow, first)
        ids = [first]
        for n in range(2, RUNS + 1):
            copy = Flow(organization_id=template.organization_id, name=f"Bench {n}",
                        created_by_id=template.created_by_id, graph=template.graph)
            db.session.add(copy)
            db.session.commit()
            ids.append(copy.id)
    return ids


def queue_runs(app, flow_ids: list[int]) -> list[int]:
    from webapp.extensions import db
    from webapp.models import Flow
    from webapp.runs.services import start_run

    with app.app_context():
        return [start_run(db.session.get(Flow, i), None).id for i in flow_ids]


def round_with(workers: int, app, env: dict, flow_ids: list[int]) -> tuple[float, list[str]]:
    """Queue the runs, start the workers, return the wall time until all have ended."""
    from webapp.extensions import db
    from webapp.models import Run

    run_ids = queue_runs(app, flow_ids)
    started = time.perf_counter()
    processes = [subprocess.Popen([sys.executable, "-m", "flask", "sdm", "worker", "--burst"],
                                  cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL) for _ in range(workers)]
    for process in processes:
        process.wait(timeout=1800)
    elapsed = time.perf_counter() - started
    with app.app_context():
        statuses = [str(s) for s in db.session.scalars(
            select(Run.status).where(Run.id.in_(run_ids)))]
    return elapsed, statuses


def main() -> None:
    load_before = os.getloadavg()[0]
    key = Fernet.generate_key().decode()
    server = os.environ.get("SDM_BENCH_DATABASE_URL") or DEFAULT_SERVER
    with tempfile.TemporaryDirectory(prefix="sdm-bench-workers-") as tmp, \
            own_database(server, "sdm_bench_workers", Path(tmp) / "sdm.db") as database_url, \
            redis_server(Path(tmp)) as redis, \
            sandbox(USERS, LATENCY_MS) as urls:
        app = make_app(Path(tmp), database_url)
        app.config["ENCRYPTION_KEYS"] = key  # the workers must read the connection's secret
        app.config.update(JOBS="rq", REDIS_URL=redis.url)
        from webapp import jobs

        app.extensions["sdm.jobs"] = jobs.RQRunner(redis.url, app.extensions["sdm.jobs"].kinds)
        flow_ids = flows(app, urls)
        env = {**os.environ, "FLASK_APP": "wsgi", "SDM_DATABASE_URL": database_url,
               "SDM_SECRET_KEY": "bench" * 8, "SDM_ENCRYPTION_KEYS": key, "SDM_JOBS": "rq",
               "SDM_REDIS_URL": redis.url, "SDM_SCHEDULER": "off", "SDM_ALLOW_HTTP": "1",
               "SDM_ALLOW_LOOPBACK": "1",
               "SDM_ARTIFACTS_DIR": str(Path(tmp) / "out"), "SDM_LOG_LEVEL": "WARNING"}
        one_s, one_statuses = round_with(1, app, env, flow_ids)
        two_s, two_statuses = round_with(2, app, env, flow_ids)
        with app.app_context():
            from webapp.extensions import db

            db.engine.dispose()
    print(json.dumps({
        "benchmark": "workers", "runs": RUNS, "users": USERS, "latency_ms": LATENCY_MS,
        "database": "postgresql" if database_url.startswith("postgresql") else "sqlite",
        "one_worker_s": round(one_s, 2), "two_workers_s": round(two_s, 2),
        "ratio": round(two_s / one_s, 2), "baseline": "one_worker_s",
        "statuses": sorted(set(one_statuses + two_statuses)), "cpus": os.cpu_count(),
        "load": [round(load_before, 2), round(os.getloadavg()[0], 2)],
    }))


if __name__ == "__main__":
    main()
