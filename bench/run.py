"""Run benchmark: a whole flow run, end to end, against the bare fetcher in the same process.

A standalone sandbox SIS on loopback adds 50 ms to every request and serves about 50,000
users and 200,000 enrollments. First the bare fetcher reads the collections the run reads
(the five chosen and academic sessions) and throws the records away (counting them, and
fingerprinting their JSON as the store writes it); then a flow with one source-oneroster
node and the CSV bundle output runs through the real machinery: start_run, the "flow.run"
job on the synchronous runner, the writer thread, SQLite in a temporary directory, merge
and integrity report. ``run_s``
ends when the run is Completed (what the run page shows); the CSV bundle is then written by
the "run.output" job, and ``with_bundle_s`` includes it: ``bundle_s`` is the wait from
Completed to the bundle ready, ``bundle_ratio`` that over ``run_s``. ``identical`` compares
the stored records with the sandbox's. Prints one JSON line.

With SDM_BENCH_DATABASE_URL set to a PostgreSQL server (for example
``postgresql+psycopg://postgres@127.0.0.1:5432/postgres``) the run stores its records in a
throwaway database created there, the production set-up, instead of SQLite.
"""

from __future__ import annotations

import hashlib
import json
import os
import resource
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

from cryptography.fernet import Fernet
from sqlalchemy import make_url, select

from bench._clients import serialised
from bench._sandbox import sandbox
from oneroster.client import OneRosterClient
from oneroster.model import ENTITIES, Record
from tests.fixtures.databases import own_database
from webapp.tuning import tune_for_background_work

USERS = 50_000
LATENCY_MS = 50
CLIENT_ID, SECRET = "demo", "sandbox-secret"
MASK = (1 << 128) - 1


def fingerprint(json: bytes) -> int:
    """Return an order-independent fingerprint part of one record: a digest of its JSON."""
    return int.from_bytes(hashlib.blake2b(json, digest_size=16).digest())


class Tally:
    """Per collection: how many records, and the sum of their fingerprints (a set digest)."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self.sums: Counter[str] = Counter()
        self.lock = threading.Lock()

    def add(self, entity: str, records: list[bytes]) -> None:
        total = sum(map(fingerprint, records))
        with self.lock:
            self.counts[entity] += len(records)
            self.sums[entity] = (self.sums[entity] + total) & MASK

    def key(self) -> dict[str, tuple[int, int]]:
        return {e: (self.counts[e], self.sums[e]) for e in self.counts}


def peak_rss_mb() -> float:
    """Return the process's peak resident memory so far."""
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def make_app(folder: Path, database_url: str):
    from webapp import create_app
    from webapp.extensions import db

    app = create_app({
        "TESTING": True, "SECRET_KEY": "bench", "ENCRYPTION_KEYS": Fernet.generate_key().decode(),
        "SQLALCHEMY_DATABASE_URI": database_url, "JOBS": "sync",
        "SANDBOX": False, "PLUGIN_ENTRY_POINTS": False, "ARTIFACTS_DIR": str(folder / "out"),
        "LOG_LEVEL": "WARNING",
    })
    with app.app_context():
        db.create_all()
    return app


def make_flow(app, urls: dict, *, entities=ENTITIES, secret: str = SECRET,
              **connection) -> tuple[int, int]:
    """Create an organization, a person, a sandbox connection and a flow; return the ids.

    Keyword arguments beyond these set the connection's own fields (a fault profile's
    client ID, version, auth method...) over the sandbox's defaults."""
    from webapp import crypto
    from webapp.extensions import db
    from webapp.models import Connection, Flow, Membership, Organization, Role, User
    from webapp.models.common import utcnow

    with app.app_context():
        org = Organization(name="Bench District")
        user = User(email="bench@example.com", name="Bench", password_hash="-")
        db.session.add_all([org, user])
        db.session.flush()
        db.session.add(Membership(user_id=user.id, organization_id=org.id, role=Role.ADMIN))
        fields = {"name": "Sandbox", "base_url": urls["base_url"],
                  "auth_url": urls["token_url"], "client_id": CLIENT_ID, **connection}
        connection = Connection(
            organization_id=org.id, provider="custom", **fields,
            client_secret_encrypted=crypto.encrypt(secret), secret_set_at=utcnow())
        db.session.add(connection)
        db.session.flush()
        flow = Flow(organization_id=org.id, name="Bench", created_by_id=user.id, graph={
            "nodes": [
                {"id": "source-1", "kind": "source", "plugin": "source-oneroster",
                 "label": "Sandbox", "config": {"connection_id": connection.id,
                                                "entities": list(entities), "sync": "full",
                                                "schools": []}},
                {"id": "output", "kind": "output", "plugin": "output-oneroster-csv",
                 "config": {}}]})
        db.session.add(flow)
        db.session.commit()
        return flow.id, user.id


def bare_fetch(app, flow_id: int) -> tuple[float, Tally]:
    """Read the run's collections with the client alone, as the run's source would configure it.

    The source reads academic sessions whatever the flow chooses, so the bare fetch does too.
    """
    from sdm_plugins.source_oneroster.source import OneRosterSource, client_settings
    from webapp.connections.services import connection_details
    from webapp.extensions import db
    from webapp.models import Connection

    with app.app_context():
        connection = db.session.scalars(select(Connection)).one()
        settings = client_settings(connection_details(connection, reason="benchmark"))
    tally = Tally()

    def sink(entity: str, records: list[Record]) -> None:
        tally.add(entity, serialised([r.data for r in records]))

    started = time.perf_counter()
    with OneRosterClient(settings) as client:
        result = client.fetch(OneRosterSource.chosen({"entities": ENTITIES}), sink=sink)
    elapsed = time.perf_counter() - started
    if not result.ok:
        raise RuntimeError(f"The bare fetch failed: {result.failed}")
    return elapsed, tally


def full_run(app, flow_id: int, user_id: int) -> tuple[float, float, dict, dict]:
    """Run the flow through start_run and the job machinery.

    Return the time to Completed (records stored, merged, checked), the time until the
    output job has written the bundle too, the run's facts and its stage timings.
    """
    from webapp.extensions import db
    from webapp.models import Flow, Job, Run, User
    from webapp.models.common import utcnow
    from webapp.runs.services import start_run

    with app.app_context():
        flow = db.session.get(Flow, flow_id)
        user = db.session.get(User, user_id)
        started_at = utcnow()
        started = time.perf_counter()
        run = start_run(flow, user)  # the synchronous runner: returns once all is done
        total = time.perf_counter() - started
        run = db.session.get(Run, run.id)
        completed = (run.finished_at - started_at).total_seconds()
        facts = {"id": run.id, "status": str(run.status), "counts": dict(run.counts),
                 "error": run.error, "output": run.output,
                 "warnings": len((run.integrity or {}).get("warnings", []))}
        stages = dict((db.session.get(Job, run.job_id).result or {}).get("timings", {}))
        bundle_job = db.session.get(Job, (run.output or {}).get("job_id"))
        stages.update(((bundle_job.result or {}) if bundle_job else {}).get("timings", {}))
    return completed, total, facts, stages


def stored_tally(app, run_id: int) -> Tally:
    from webapp.extensions import db
    from webapp.models import RunRecord

    tally = Tally()
    with app.app_context():
        rows = db.session.execute(
            select(RunRecord.entity, RunRecord.data).where(
                RunRecord.run_id == run_id, RunRecord.superseded.is_(False))
            .execution_options(yield_per=5000))
        for entity, data in rows:
            tally.add(entity, [data.encode()])
    return tally


def main() -> None:
    tune_for_background_work()  # as `flask sdm worker` does: see webapp/tuning.py
    with tempfile.TemporaryDirectory(prefix="sdm-bench-run-") as tmp, \
            own_database(os.environ.get("SDM_BENCH_DATABASE_URL"), "sdm_bench",
                         Path(tmp) / "sdm.db") as database_url, \
            sandbox(USERS, LATENCY_MS) as urls:
        folder = Path(tmp)
        app = make_app(folder, database_url)
        flow_id, user_id = make_flow(app, urls)
        cpu = time.process_time()
        fetch_s, fetched = bare_fetch(app, flow_id)
        fetch_cpu = time.process_time() - cpu
        peak_fetch = peak_rss_mb()
        cpu = time.process_time()
        run_s, total_s, facts, stages = full_run(app, flow_id, user_id)
        run_cpu = time.process_time() - cpu  # bundle included
        peak = peak_rss_mb()
        stored = stored_tally(app, facts["id"])
        with app.app_context():
            from webapp.extensions import db
            db.engine.dispose()  # before the throwaway database is dropped
    records = sum(facts["counts"].values())
    identical = stored.key() == fetched.key() and all(
        stored.counts[e] == urls["records"].get(e, stored.counts[e]) for e in stored.counts)
    print(json.dumps({
        "bench": "run",
        "database": make_url(database_url).get_backend_name(),
        "run_s": round(run_s, 2),
        "fetch_s": round(fetch_s, 2),
        "ratio": round(run_s / fetch_s, 2),
        "records": records,
        "records_per_s": round(records / run_s),
        "peak_rss_mb": peak,
        "peak_rss_after_fetch_mb": peak_fetch,
        "fetch_cpu_s": round(fetch_cpu, 2),
        "run_with_bundle_cpu_s": round(run_cpu, 2),
        "identical": identical,
        "status": facts["status"],
        "with_bundle_s": round(total_s, 2),
        "bundle_s": round(total_s - run_s, 2),
        "bundle_ratio": round((total_s - run_s) / run_s, 2),
        "stages": stages,
        "bundle": (facts["output"] or {}).get("state"),
        "bundle_files": (facts["output"] or {}).get("files"),
        "server_records": urls["records"],
        "latency_ms": LATENCY_MS,
    }), flush=True)


if __name__ == "__main__":
    main()
