"""Workers benchmark: the same four flow runs with one RQ worker process, then with two.

PostgreSQL (SDM_BENCH_DATABASE_URL, by default the local server) stores the records in a
throwaway database; a Redis server of the benchmark's own on a free port holds the queue; a
standalone sandbox SIS on loopback adds 50 ms to every request. Four flows read the same
district through source-oneroster and write the CSV bundle. Each round starts long-running
`flask sdm worker` processes, as deployed, and waits until each is waiting on the queue; the
clock then runs from queueing the four runs until the end of the last job (bundles written), as
the job table records it: the benchmark asks ten times a second whether all have ended, and
its asking neither moves the clock nor takes much of the two cores the workers share.
Starting a worker (some 2.5 s of CPU importing the app) is not part of what is timed: it is
paid once per worker's life, not per run, and when timed it cost two starting workers on two
cores more than the runs themselves. The machine may be shared, and the first round meets a
cold database: the two settings take turns ROUNDS times (3 unless SDM_BENCH_ROUNDS says
otherwise), after one untimed round that warms the database up, and each one's median is
reported. Every round starts from the same database: the runs of the round before are
deleted, the tables vacuumed and a checkpoint taken, so no round pays for another's data.
``ratio`` is two_workers_s ÷ one_worker_s (the baseline: one worker, same runs, same machine,
same process). Prints one JSON line with every round's time, the jobs each worker ran, the
CPU seconds of each worker, of the sandbox, of the database and of the benchmark itself during
the median rounds, and the load average before and after.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import datetime
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
ROUNDS = int(os.environ.get("SDM_BENCH_ROUNDS", 3))
POLL_S = 0.1  # how often the benchmark asks whether the round's jobs have all ended
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


def cpu_s(pid: int) -> float:
    """Return the CPU seconds (user + system) a live process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def database_cpu(app) -> dict[int, float]:
    """Return the CPU seconds of each PostgreSQL backend serving the benchmark's database."""
    from sqlalchemy import text

    from webapp.extensions import db

    with app.app_context():
        if db.engine.dialect.name != "postgresql":
            return {}
        pids = db.session.scalars(text(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid()")).all()
        db.session.remove()
    found = {}
    for pid in pids:
        try:
            found[pid] = cpu_s(pid)
        except OSError:  # ended meanwhile, or on another machine
            pass
    return found


class Unfinished:
    """Counts the jobs (runs and their bundles) not yet ended, as cheaply as it can be asked.

    The benchmark asks while the workers run, on the same two cores: one connection of its
    own and one prepared statement, not a session and a query built each time (which, asked
    50 times a second, cost a tenth of a core, more than a worker's share in a round).
    """

    def __init__(self, app) -> None:
        from webapp.extensions import db
        from webapp.models import Job, JobStatus

        with app.app_context():
            statement = select(db.func.count(Job.id)).where(
                Job.status.in_([str(JobStatus.QUEUED), str(JobStatus.RUNNING)]))
            compiled = statement.compile(db.engine, compile_kwargs={"literal_binds": True})
            self.sql = str(compiled)
            self.connection = db.engine.raw_connection()

    def __call__(self) -> int:
        cursor = self.connection.cursor()
        try:
            cursor.execute(self.sql)
            count = cursor.fetchone()[0]
        finally:
            cursor.close()
        self.connection.commit()  # a fresh snapshot for the next question
        return count

    def close(self) -> None:
        self.connection.close()


def round_with(workers: int, app, env: dict, flow_ids: list[int],
               sandbox_pid: int) -> dict:
    """Start the workers, queue the runs once all are waiting, time until every job ended."""
    from rq import Worker

    from webapp.extensions import db
    from webapp.models import Run
    from webapp.models.common import utcnow

    fresh_start(app)
    unfinished = Unfinished(app)
    queue = app.extensions["sdm.jobs"].queue  # each run is two jobs: the run, its bundle
    processes = [subprocess.Popen([sys.executable, "-m", "flask", "sdm", "worker"],
                                  cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL) for _ in range(workers)]
    try:
        deadline = time.monotonic() + 120
        while Worker.count(queue=queue) < workers:  # long-running workers, as deployed
            if time.monotonic() > deadline:
                raise RuntimeError("the workers did not start")
            time.sleep(0.05)
        cpu_before = [cpu_s(p.pid) for p in processes] + [cpu_s(sandbox_pid)]
        database_before = database_cpu(app)
        own_before = time.process_time()
        started = utcnow()
        run_ids = queue_runs(app, flow_ids)
        while unfinished():
            time.sleep(POLL_S)
        elapsed = (last_end(app) - started).total_seconds()
        own_s = time.process_time() - own_before  # queueing the runs, and asking if they ended
        cpu_after = [cpu_s(p.pid) for p in processes] + [cpu_s(sandbox_pid)]
        database_s = sum(after - database_before.get(pid, 0.0)
                         for pid, after in database_cpu(app).items())
        jobs_by_worker = ran_by_worker(queue, 2 * len(run_ids))
    finally:
        unfinished.close()
        for process in processes:
            process.terminate()  # a warm shutdown: the worker is idle
        for process in processes:
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
    with app.app_context():
        statuses = [str(s) for s in db.session.scalars(
            select(Run.status).where(Run.id.in_(run_ids)))]
    cpu = [round(after - before, 2) for before, after in zip(cpu_before, cpu_after, strict=True)]
    return {"s": elapsed, "statuses": statuses, "jobs_by_worker": jobs_by_worker,
            "worker_cpu_s": cpu[:-1], "sandbox_cpu_s": cpu[-1],
            "database_cpu_s": round(database_s, 2), "bench_cpu_s": round(own_s, 2)}


def last_end(app) -> datetime:
    """Return when the last job of the round ended, as its worker recorded it."""
    from webapp.extensions import db
    from webapp.models import Job

    with app.app_context():
        found = db.session.scalar(select(db.func.max(Job.finished_at)))
        db.session.remove()
    return found


def fresh_start(app) -> None:
    """Delete every run and job, then vacuum and checkpoint (where the role may)."""
    from sqlalchemy import text

    from webapp.extensions import db
    from webapp.models import Job, Run

    with app.app_context():
        db.session.execute(db.delete(Run))  # records, collections, references go with them
        db.session.execute(db.delete(Job))
        db.session.commit()
        if db.engine.dialect.name == "postgresql":
            with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.execute(text("VACUUM ANALYZE"))
                try:
                    conn.execute(text("CHECKPOINT"))
                except Exception:  # a role without the right: the log fills as it may
                    pass
        db.session.remove()


def ran_by_worker(queue, jobs: int) -> list[int]:
    """Return how many jobs each worker ran (RQ counts a job just after its row has ended)."""
    from rq import Worker

    deadline = time.monotonic() + 5
    while True:
        counts = sorted(w.successful_job_count for w in Worker.all(queue=queue))
        if sum(counts) >= jobs or time.monotonic() > deadline:
            return counts
        time.sleep(0.05)


def median_round(rounds: list[dict]) -> dict:
    """Return the round of the median time (the upper one of an even count)."""
    ordered = sorted(rounds, key=lambda r: r["s"])
    return ordered[len(ordered) // 2]


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
        round_with(1, app, env, flow_ids, urls["pid"])  # warms the database up; not counted
        rounds: dict[int, list[dict]] = {1: [], 2: []}
        for _ in range(ROUNDS):
            for workers in (1, 2):
                rounds[workers].append(round_with(workers, app, env, flow_ids, urls["pid"]))
        one, two = (median_round(rounds[n]) for n in (1, 2))
        with app.app_context():
            from webapp.extensions import db

            db.engine.dispose()
    print(json.dumps({
        "benchmark": "workers", "runs": RUNS, "users": USERS, "latency_ms": LATENCY_MS,
        "database": "postgresql" if database_url.startswith("postgresql") else "sqlite",
        "one_worker_s": round(one["s"], 2), "two_workers_s": round(two["s"], 2),
        "ratio": round(two["s"] / one["s"], 2), "baseline": "one_worker_s",
        "rounds_s": {str(n): [round(r["s"], 2) for r in rounds[n]] for n in (1, 2)},
        "statuses": sorted({s for n in (1, 2) for r in rounds[n] for s in r["statuses"]}),
        "jobs_by_worker": [one["jobs_by_worker"], two["jobs_by_worker"]],
        "worker_cpu_s": [one["worker_cpu_s"], two["worker_cpu_s"]],
        "sandbox_cpu_s": [one["sandbox_cpu_s"], two["sandbox_cpu_s"]],
        "database_cpu_s": [one["database_cpu_s"], two["database_cpu_s"]],
        "bench_cpu_s": [one["bench_cpu_s"], two["bench_cpu_s"]], "cpus": os.cpu_count(),
        "load": [round(load_before, 2), round(os.getloadavg()[0], 2)],
    }))


if __name__ == "__main__":
    main()
