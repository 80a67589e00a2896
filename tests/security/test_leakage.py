"""A scenario that handles a secret every way SDM can, then looks for it everywhere.

Create, test (against a token endpoint that echoes the request), edit, run and delete
connections; then search every response body, the captured logs, a dump of every table and
every job payload in Redis for the secret in each form it can take, and for the bearer
tokens the SIS issued.
"""

from __future__ import annotations

import base64
import html
import json
import logging
import os
import socket
from urllib.parse import parse_qs

import pytest
from sqlalchemy import select

from oneroster.errors import secret_forms
from tests.connections.conftest import VALID
from tests.fixtures.accounts import People
from tests.security.servers import Received, Reply, serve
from webapp.extensions import db
from webapp.models import Connection, Flow, User

SECRET = "Le@k+me/if&you=can 2%"
NEW_SECRET = "an0ther:S3cret/with+plus"
TOKENS = ("sis-bearer-7f3a9c1e44", "sis-bearer-0b2d8e6f91")
PATH = "/ims/oneroster/rostering/v1p2"
REDIS = ("127.0.0.1", 6379)


def _redis_answers() -> bool:
    try:
        with socket.create_connection(REDIS, timeout=0.5):
            return True
    except OSError:
        return False


pytestmark = pytest.mark.skipif(not _redis_answers(), reason="no Redis on 127.0.0.1:6379")


@pytest.fixture
def app_config(app_config, tmp_path):
    number = os.environ.get("SDM_TEST_REDIS_DB", "13")
    return {**app_config, "JOBS": "rq", "ARTIFACTS_DIR": str(tmp_path / "artifacts"),
            "REDIS_URL": f"redis://{REDIS[0]}:{REDIS[1]}/{number}"}


class EchoingSis:
    """A SIS whose token endpoint and collections repeat back what they were sent."""

    def __init__(self) -> None:
        self.issued = 0

    def __call__(self, got: Received) -> Reply:
        auth = got.headers.get("Authorization", "")
        if got.path.startswith("/oauth/token"):
            form = parse_qs(got.body.decode())
            client = form.get("client_id", [""])[0] or _basic_user(auth)
            if client == "echo":
                said = f"you sent {got.body.decode()} with {auth}"
                return Reply.json({"error": "invalid_client", "error_description": said}, 401)
            token = TOKENS[self.issued % len(TOKENS)]
            self.issued += 1
            return Reply.json({"access_token": token, "expires_in": 3600})
        entity = got.path.split("?")[0].rsplit("/", 1)[-1]
        if entity == "users":
            return Reply.json({"imsx_codeMajor": "failure",
                               "imsx_description": f"token {auth} lacks a scope"}, 403)
        return Reply(200, json.dumps({entity: []}).encode(),
                     {"Content-Type": "application/json", "X-Total-Count": "0"})


def _basic_user(header: str) -> str:
    if not header.startswith("Basic "):
        return ""
    return base64.b64decode(header[6:]).decode().split(":", 1)[0]


def _needles() -> dict[str, str]:
    found = {}
    for secret, client in ((SECRET, "echo"), (SECRET, "good"), (NEW_SECRET, "good")):
        for form in secret_forms(secret, client):
            found[form] = f"a form of {secret!r}"
            found[html.escape(form)] = f"the HTML of a form of {secret!r}"
    for token in TOKENS:
        found[token] = "a SIS bearer token"
    return found


class Recorder:
    """Keep every response body of a client."""

    def __init__(self, client) -> None:
        self.client = client
        self.bodies: list[tuple[str, str]] = []

    def __getattr__(self, verb):
        method = getattr(self.client, verb)

        def call(url, **kwargs):
            response = method(url, **kwargs)
            self.bodies.append((f"{verb.upper()} {url}", response.get_data(as_text=True)))
            return response

        return call


def _dump(app) -> list[tuple[str, str]]:
    rows = []
    with app.app_context():
        for table in db.metadata.sorted_tables:
            for row in db.session.execute(select(table)):
                rows.append((f"table {table.name}", repr(tuple(row))))
    return rows


def _redis_dump(runner) -> list[tuple[str, str]]:
    conn = runner.connection
    found = []
    for key in conn.scan_iter("*"):
        kind = conn.type(key).decode()
        if kind == "string":
            value = conn.get(key)
        elif kind == "hash":
            value = repr(conn.hgetall(key))
        elif kind == "list":
            value = repr(conn.lrange(key, 0, -1))
        elif kind in ("set", "zset"):
            value = repr(conn.smembers(key) if kind == "set" else conn.zrange(key, 0, -1))
        else:
            value = b""
        found.append((f"redis {key.decode()}", value if isinstance(value, str)
                      else value.decode("utf-8", "replace") if isinstance(value, bytes)
                      else str(value)))
    return found


def test_no_secret_and_no_sis_token_is_found_anywhere(app, caplog):
    caplog.set_level(logging.DEBUG)
    runner = app.extensions["sdm.jobs"]
    runner.connection.flushdb()
    redis_seen: list[tuple[str, str]] = []

    def work():
        redis_seen.extend(_redis_dump(runner))  # payloads as they wait in the queue
        runner.work(app, burst=True)
        redis_seen.extend(_redis_dump(runner))

    with serve(EchoingSis()) as sis:
        urls = {"base_url": sis.url + PATH, "auth_url": sis.url + "/oauth/token"}
        People(app).signup("ada@example.com", "Springfield District", name="Ada Admin")
        ada = Recorder(People(app).login("ada@example.com"))
        created = ada.post("/connections/", data={**VALID, **urls, "client_id": "echo",
                                                  "client_secret": SECRET})
        assert created.status_code == 303
        with app.app_context():
            connection_id = db.session.scalar(select(Connection.id))
        page = f"/connections/{connection_id}"
        # Test it: the token endpoint repeats the Basic header and the form back.
        ada.post(f"{page}/test")
        work()
        ada.get(page)
        ada.get(f"{page}/test", headers={"HX-Request": "true"})
        # Test unsaved values with the secret in the body.
        tested = ada.post("/connections/test", data={**VALID, **urls, "client_id": "echo",
                                                     "client_secret": SECRET,
                                                     "auth_method": "oauth2_body"})
        work()
        job_page = tested.headers.get("Location")
        ada.get(job_page)
        # Edit: a new secret and a client the SIS gives tokens to; test; run.
        ada.post(page, data={**VALID, **urls, "client_id": "good",
                             "client_secret": NEW_SECRET})
        ada.post(f"{page}/test")
        work()
        ada.get(page)
        with app.app_context():
            user = db.session.scalar(select(User))
            flow = Flow(organization_id=user.memberships[0].organization_id, name="Nightly",
                        created_by_id=user.id, graph={"nodes": [
                            {"id": "source-1", "kind": "source", "plugin": "source-oneroster",
                             "label": "SIS", "config": {
                                 "connection_id": connection_id, "sync": "full",
                                 "schools": [], "entities": ["orgs", "users"]}},
                            {"id": "output", "kind": "output",
                             "plugin": "output-oneroster-csv", "config": {}}]})
            db.session.add(flow)
            db.session.commit()
            flow_id = flow.id
        started = ada.post(f"/runs/flows/{flow_id}/start")
        work()
        run_page = started.headers["Location"]
        ada.get(run_page)
        ada.get(f"/flows/{flow_id}")
        ada.get("/orgs/audit")
        ada.get(f"{page}/edit")
        # Delete it.
        ada.post(f"{page}/delete")
        ada.get("/connections/")
        tokens_asked = [r for r in sis.received if r.path.startswith("/oauth/token")]
        collections = [r for r in sis.received if not r.path.startswith("/oauth/token")]
        assert len(tokens_asked) >= 4 and collections, "the scenario reached the SIS"

    haystacks = [*ada.bodies, *_dump(app), *redis_seen,
                 *((f"log {r.name}", r.getMessage()) for r in caplog.records)]
    leaks = sorted({(where, why) for where, text in haystacks
                    for needle, why in _needles().items() if needle in text})
    assert leaks == []
    # What the SIS repeated back did arrive, with the secret taken out.
    shown = " ".join(text for _, text in haystacks)
    assert "you sent" in shown and "lacks a scope" in shown
    assert "[redacted]" in shown
    runner.connection.flushdb()


def test_the_scan_finds_a_secret_that_is_there():
    """The needles match the forms SDM would leak, so the scan above can fail."""
    needles = _needles()
    basic = base64.b64encode(f"echo:{SECRET}".encode()).decode()
    assert basic in needles and html.escape(SECRET) in needles
    assert "Le%40k%2Bme%2Fif%26you%3Dcan+2%25" in needles  # form-encoded
