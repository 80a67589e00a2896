"""Poll benchmark: a running test's status fragment against /healthz, under the same load.

gunicorn serves the app with several gthread workers (SQLite in a temporary directory, or
PostgreSQL when SDM_BENCH_DATABASE_URL names a server). A connection test runs against a
sandbox SIS that takes 8 s per request, so it stays Testing throughout. Then, in one run
(after a warm-up in which every worker compiles its templates, not measured),
100 clients poll the test's status fragment the way the connection page does (htmx, every
second, sending the signature they last saw) while 100 clients poll /healthz at the same
pace. Each client keeps its connection open. ``ratio`` is status p95 ÷ health p95 (the
baseline: the cheapest answer the same server gives under the same load). Prints one JSON
line; ``load`` is the machine's 1-minute load average before and after.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests
from cryptography.fernet import Fernet

from bench._sandbox import sandbox
from tests.fixtures.databases import own_database
from tests.fixtures.redis_server import free_port

ROOT = Path(__file__).resolve().parent.parent
CLIENTS = 100  # per endpoint
DURATION_S = 15.0  # measured, after WARMUP_S in which every worker compiles its templates
WARMUP_S = 5.0
INTERVAL_S = 1.0  # htmx's every 1s
WORKERS = 4
EMAIL, PASSWORD = "bench@example.com", "bench-password-123"


def seed(database_url: str, key: str, urls: dict) -> int:
    """Create the schema, a person, an organization and a sandbox connection; return its id."""
    from werkzeug.security import generate_password_hash

    from webapp import create_app, crypto
    from webapp.extensions import db
    from webapp.models import Connection, Membership, Organization, Role, User
    from webapp.models.common import utcnow

    app = create_app({"TESTING": True, "SECRET_KEY": "bench", "ENCRYPTION_KEYS": key,
                      "SQLALCHEMY_DATABASE_URI": database_url, "JOBS": "sync",
                      "PLUGIN_ENTRY_POINTS": False, "LOG_LEVEL": "WARNING"})
    with app.app_context():
        db.create_all()
        org = Organization(name="Bench District")
        user = User(email=EMAIL, name="Bench",
                    password_hash=generate_password_hash(PASSWORD, "pbkdf2:sha256:1000"))
        db.session.add_all([org, user])
        db.session.flush()
        db.session.add(Membership(user_id=user.id, organization_id=org.id, role=Role.ADMIN))
        connection = Connection(organization_id=org.id, name="Slow SIS", provider="custom",
                                base_url=urls["base_url"], auth_url=urls["token_url"],
                                client_id="demo", client_secret_encrypted=crypto.encrypt(
                                    "sandbox-secret"), secret_set_at=utcnow())
        db.session.add(connection)
        db.session.commit()
        connection_id = connection.id
        db.engine.dispose()
    return connection_id


def csrf(session: requests.Session, url: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', session.get(url).text).group(1)


async def client(port: int, path: str, cookie: str, measure_from: float, until: float,
                 delay: float, latencies: list[float], errors: list[str]) -> None:
    """Poll one path over one kept-alive connection until a deadline, like htmx does."""
    await asyncio.sleep(delay)
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    seen = ""
    try:
        while time.monotonic() < until:
            query = f"?seen={seen}" if seen else ""
            request = (f"GET {path}{query} HTTP/1.1\r\nHost: 127.0.0.1\r\nHX-Request: true\r\n"
                       f"Cookie: {cookie}\r\nConnection: keep-alive\r\n\r\n")
            started = time.perf_counter()
            writer.write(request.encode())
            await writer.drain()
            status, body = await read_response(reader)
            if time.monotonic() >= measure_from:
                latencies.append((time.perf_counter() - started) * 1000)
            if status not in (200, 204, 286):
                errors.append(f"{path}: HTTP {status}")
            found = re.search(rb"seen=([0-9a-f]+)", body)
            seen = found.group(1).decode() if found else seen
            await asyncio.sleep(max(0.0, INTERVAL_S - (time.perf_counter() - started)))
    finally:
        writer.close()


async def read_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    length = re.search(rb"(?i)content-length: *(\d+)", head)
    body = await reader.readexactly(int(length.group(1))) if length else b""
    return status, body


async def load(port: int, connection_id: int, cookie: str) -> dict:
    measure_from = time.monotonic() + WARMUP_S
    until = measure_from + DURATION_S
    status_ms: list[float] = []
    health_ms: list[float] = []
    errors: list[str] = []
    tasks = []
    for i in range(CLIENTS):
        delay = INTERVAL_S * i / CLIENTS  # spread like page loads, not one thundering herd
        tasks.append(client(port, f"/connections/{connection_id}/test", cookie, measure_from,
                            until, delay, status_ms, errors))
        tasks.append(client(port, "/healthz", "", measure_from, until, delay, health_ms,
                            errors))
    await asyncio.gather(*tasks)
    return {"status": status_ms, "health": health_ms, "errors": errors}


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(len(ordered) * p))], 1)


def main() -> None:
    key = Fernet.generate_key().decode()
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="sdm-bench-poll-") as tmp, \
            own_database(os.environ.get("SDM_BENCH_DATABASE_URL"), "sdm_bench_poll",
                         Path(tmp) / "sdm.db") as database_url, \
            sandbox(300, latency_ms=8000) as urls:
        connection_id = seed(database_url, key, urls)
        port = free_port()
        env = {**os.environ, "SDM_DATABASE_URL": database_url, "SDM_SECRET_KEY": "bench" * 8,
               "SDM_ENCRYPTION_KEYS": key, "SDM_JOBS": "thread", "SDM_SCHEDULER": "off",
               "SDM_TEST_BUDGET_S": "120", "SDM_ALLOW_HTTP": "1", "SDM_ALLOW_LOOPBACK": "1",
               "SDM_LOG_LEVEL": "WARNING"}
        server = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{port}", "--worker-class",
             "gthread", "--workers", str(WORKERS), "--threads", "16", "--keep-alive", "30",
             "wsgi:app"], cwd=ROOT, env=env, stderr=subprocess.DEVNULL)
        try:
            base = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 180  # a busy machine starts workers slowly
            while True:
                try:
                    if requests.get(f"{base}/healthz", timeout=2).ok:
                        break
                except requests.RequestException:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError("gunicorn did not start")
                time.sleep(0.2)
            session = requests.Session()
            session.post(f"{base}/login", data={"email": EMAIL, "password": PASSWORD,
                                                "csrf_token": csrf(session, f"{base}/login")})
            page = f"{base}/connections/{connection_id}"
            started = session.post(f"{page}/test", data={"csrf_token": csrf(session, page)})
            started.raise_for_status()
            cookie = "; ".join(f"{c.name}={c.value}" for c in session.cookies)
            measured = asyncio.run(load(port, connection_id, cookie))
            still_testing = 'data-state="testing"' in session.get(
                f"{page}/test", headers={"HX-Request": "true"}).text
        finally:
            server.terminate()
            server.wait(timeout=30)
    status, health = measured["status"], measured["health"]
    status_p95, health_p95 = percentile(status, 0.95), percentile(health, 0.95)
    print(json.dumps({
        "benchmark": "poll", "workers": WORKERS, "clients_per_endpoint": CLIENTS,
        "duration_s": DURATION_S, "warmup_s": WARMUP_S, "interval_s": INTERVAL_S,
        "database": "postgresql" if database_url.startswith("postgresql") else "sqlite",
        "status_requests": len(status), "health_requests": len(health),
        "status_p50_ms": percentile(status, 0.5), "status_p95_ms": status_p95,
        "health_p50_ms": percentile(health, 0.5), "health_p95_ms": health_p95,
        "status_mean_ms": round(statistics.fmean(status), 1),
        "ratio": round(status_p95 / health_p95, 2), "baseline": "health_p95_ms",
        "errors": len(measured["errors"]), "test_still_running": still_testing,
        "load": [round(load_before, 2), round(os.getloadavg()[0], 2)],
    }))


if __name__ == "__main__":
    main()
