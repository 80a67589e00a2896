"""Flow runs against the sandbox's real-server fault profiles: the exact outcome of each."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from oneroster.model import ENTITIES
from oneroster.sandbox.profiles import LARGER_TOTAL
from tests.runs.conftest import graph, source
from tests.runs.test_engine import stored
from tests.runs.test_run_test_data import run_id_of
from webapp import crypto
from webapp.extensions import db
from webapp.models import Connection, User
from webapp.models.common import utcnow


@pytest.fixture
def start(app, ada, people, flows, sandbox):
    """Run a flow over a sandbox connection with a fault profile; return the finished run."""

    made = iter(range(1, 100))

    def run(profile: str, **columns):
        v1p1 = columns.pop("v1p1", False)
        with app.app_context():
            user = db.session.scalar(select(User).where(User.email == "ada@example.com"))
            values = dict(
                organization_id=people.org_id("Springfield District"),
                name=f"Sandbox {profile} {next(made)}",
                provider="custom", base_url=sandbox.base_url_v1p1 if v1p1 else sandbox.base_url,
                auth_url=sandbox.token_url, client_id=profile,
                client_secret_encrypted=crypto.encrypt(sandbox.secret), secret_set_at=utcnow(),
                created_by_id=user.id, oneroster_version="1.1" if v1p1 else "1.2")
            values.update(columns)
            connection = Connection(**values)
            db.session.add(connection)
            db.session.commit()
            connection_id = connection.id
        flow_id = flows.create(graph(source(plugin="source-oneroster",
                                            connection_id=connection_id)),
                               name=f"Nightly {connection_id}")
        run_id = run_id_of(ada.post(f"/runs/flows/{flow_id}/start"))
        return flows.run(run_id)

    return run


READ = (*ENTITIES, "academicSessions")  # a flow's default collections, and the sessions


def counts(sandbox):
    found = sandbox.app.district.counts()
    return {e: found[e] for e in READ}


def states(run):
    return {c.entity: c.state for c in run.collections}


def exact(app, sandbox, run):
    assert run.counts == counts(sandbox)
    for entity in ("orgs", "users", "enrollments"):
        served = {r["sourcedId"] for r in sandbox.app.district.records(entity, "")}
        assert set(stored(app, run.id, entity)) == served, entity


def test_total_larger_completes_with_warnings_naming_what_the_server_said(
        app, ada, sandbox, start):
    run = start("total-larger")
    assert run.status == "completed_with_warnings", run.error
    exact(app, sandbox, run)
    for collection in run.collections:
        assert collection.warnings == [
            f"The server said {LARGER_TOTAL:,}, sent {collection.records:,}; SDM read on to "
            "the last page the server serves"]
        assert collection.requests <= collection.pages + 8  # no more than the window past it
    codes = [f["code"] for f in run.integrity["warnings"]]
    assert codes.count("total_mismatch") == len(READ)
    page = ada.get(f"/runs/{run.id}").get_data(as_text=True)
    assert f"Completed with warnings: the server said {LARGER_TOTAL:,}, sent" in page


def test_total_smaller_completes_with_warnings_and_every_record(app, sandbox, start):
    run = start("total-smaller")
    assert run.status == "completed_with_warnings", run.error
    exact(app, sandbox, run)
    users = next(c for c in run.collections if c.entity == "users")
    assert users.warnings == ["The server said 150, sent 300; SDM read on to the last page "
                              "the server serves"]


def test_offset_ignored_fails_the_collections_longer_than_a_page(app, ada, sandbox, start):
    run = start("offset-ignored")
    assert run.status == "failed"
    assert states(run) == {"orgs": "completed", "courses": "completed",
                           "classes": "completed", "users": "completed",
                           "enrollments": "failed",  # only it is longer than one page
                           "academicSessions": "completed"}
    enrollments = next(c for c in run.collections if c.entity == "enrollments")
    assert enrollments.error["category"] == "incomplete_collection"
    assert enrollments.error["message"] == (
        "The server ignores offset: asked for enrollments past the first page, it sent the "
        "first page again, so SDM cannot read beyond the first 1,000 records of the 1,184 it "
        "says it holds")
    assert "Incomplete collection" in ada.get(f"/runs/{run.id}").get_data(as_text=True)


def test_token_redirect_fails_every_collection_naming_the_url(app, sandbox, start):
    run = start("token-redirect")
    assert run.status == "failed"
    assert set(states(run).values()) == {"failed"}
    issuer = sandbox.app.issuer_url + "oauth/issuer/token"
    for collection in run.collections:
        assert collection.error["category"] == "token_endpoint_unreachable"
        assert f"redirects to {issuer}, on another server" in collection.error["message"]
    fixed = start("token-redirect", auth_url=issuer)
    assert set(states(fixed).values()) == {"completed"}, fixed.error
    exact(app, sandbox, fixed)


def test_scope_required_completes(app, sandbox, start):
    run = start("scope-required")
    assert set(states(run).values()) == {"completed"}, run.error
    exact(app, sandbox, run)


def test_token_at_base_url_completes_with_auth_url_blank(app, sandbox, start):
    run = start("token-at-base", v1p1=True, auth_url=None)
    assert set(states(run).values()) == {"completed"}, run.error
    assert run.counts == counts(sandbox)


def test_oauth1_sha1_only_fails_with_the_hint_then_completes_with_hmac_sha1(app, sandbox,
                                                                           start):
    run = start("oauth1-sha1", v1p1=True, auth_url=None, auth_method="oauth1")
    assert set(states(run).values()) == {"failed"}
    assert all(c.error["message"].endswith("choose HMAC-SHA1 as the signature method")
               for c in run.collections)
    fixed = start("oauth1-sha1", v1p1=True, auth_url=None, auth_method="oauth1",
                  signature_method="HMAC-SHA1")
    assert set(states(fixed).values()) == {"completed"}, fixed.error
    assert fixed.counts == counts(sandbox)


@pytest.mark.parametrize("profile", ["html-429", "relative-links", "cursor"])
def test_paging_and_rate_limit_profiles_complete_exactly(app, sandbox, start, profile):
    run = start(profile)
    assert set(states(run).values()) == {"completed"}, run.error
    assert run.status in ("completed", "completed_with_warnings")
    assert not any(f["code"] == "total_mismatch" for f in run.integrity["warnings"])
    exact(app, sandbox, run)
