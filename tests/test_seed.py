"""The demo seed: an empty database gets the demo admin, their organization, a sandbox link."""

from __future__ import annotations

import socket

import pytest
from sqlalchemy import func, select

from webapp import create_app, crypto
from webapp.connections.providers import ProviderTemplate
from webapp.extensions import db
from webapp.models import (
    AuditEvent,
    Connection,
    Flow,
    Membership,
    Organization,
    Role,
    Run,
    User,
)
from webapp.seed import DEMO_FLOW, DEMO_ORGANIZATION, seed_demo

SANDBOX = ProviderTemplate(
    id="sandbox", name="Sandbox (demo SIS)", description="The SIS built into SDM.",
    base_url="{app_url}sandbox/ims/oneroster/rostering/v1p2",
    auth_url="{app_url}sandbox/oauth/token", client_id="demo", demo_secret="sandbox-secret",
)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def demo_app_config(app_config):
    app_config.update(DEMO_EMAIL="demo@example.com", DEMO_PASSWORD="demo password 1",
                      APP_URL=f"http://127.0.0.1:{free_port()}/")
    return app_config


def _count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def test_seed_creates_the_demo_admin_and_organization(demo_app_config, app, client):
    with app.app_context():
        assert seed_demo() is True
        membership = db.session.scalar(select(Membership))
        assert membership.user.email == "demo@example.com"
        assert membership.role == Role.ADMIN
        assert membership.organization.name == DEMO_ORGANIZATION == "Demo School District"
        assert _count(Connection) == 0  # the sandbox is off in this app
    response = client.post("/login", data={"email": "demo@example.com",
                                           "password": "demo password 1"})
    assert response.status_code == 303
    page = client.get("/orgs/members").get_data(as_text=True)
    assert "Demo School District" in page and "Demo Admin" in page


def test_seed_does_nothing_when_there_are_users(demo_app_config, app, auth):
    auth.signup()
    with app.app_context():
        assert seed_demo() is False
        assert _count(User) == 1 and _count(Organization) == 1
    with app.app_context():
        assert seed_demo() is False


def test_seed_saves_a_sandbox_connection_when_the_sandbox_is_on(demo_app_config, app):
    app.config["SANDBOX"] = True
    app.extensions["sdm.plugins"].providers.setdefault("sandbox", SANDBOX)
    with app.app_context():
        assert seed_demo() is True
        connection = db.session.scalar(select(Connection))
        organization = db.session.get(Organization, connection.organization_id)
        assert organization.name == "Demo School District"
        assert connection.provider == "sandbox"
        assert connection.base_url.startswith(app.config["APP_URL"] + "sandbox/")
        assert connection.client_id == "demo"
        assert "sandbox-secret" not in connection.client_secret_encrypted
        assert crypto.decrypt(connection.client_secret_encrypted) == "sandbox-secret"
        assert connection.created_by.email == "demo@example.com"
        assert db.session.scalar(select(AuditEvent).where(
            AuditEvent.action == "connection.created")) is not None


def test_the_first_visit_shows_a_flow_with_a_completed_run(demo_app_config, tmp_path):
    demo_app_config.update(SANDBOX=True, SANDBOX_USERS=60, ARTIFACTS_DIR=str(tmp_path / "runs"))
    app = create_app(demo_app_config)
    try:
        with app.app_context():
            db.create_all()
            assert seed_demo() is True
            flow = db.session.scalar(select(Flow))
            assert flow.name == DEMO_FLOW
            run = db.session.scalar(select(Run).where(Run.flow_id == flow.id))
            assert run.status == "completed", run.error
            served = app.extensions["sdm.sandbox"].district.counts()
            assert run.counts == {e: served[e] for e in run.counts} and len(run.counts) == 6
            connection = db.session.scalar(select(Connection))
            assert connection.status == "success"  # the run vouches for it
        client = app.test_client()
        client.post("/login", data={"email": "demo@example.com",
                                    "password": "demo password 1"})
        flows = client.get("/flows/").get_data(as_text=True)
        assert DEMO_FLOW in flows and "Completed" in flows
    finally:
        with app.app_context():
            app.extensions["sdm.jobs"].shutdown()
            db.session.remove()
            db.drop_all()
            db.engine.dispose()
