"""The demo seed: an empty database gets the demo admin, their organization, a sandbox link."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from webapp import crypto
from webapp.connections.providers import ProviderTemplate
from webapp.extensions import db
from webapp.models import AuditEvent, Connection, Membership, Organization, Role, User
from webapp.seed import DEMO_ORGANIZATION, seed_demo

SANDBOX = ProviderTemplate(
    id="sandbox", name="Sandbox (demo SIS)", description="The SIS built into SDM.",
    base_url="{app_url}sandbox/ims/oneroster/rostering/v1p2",
    auth_url="{app_url}sandbox/oauth/token", client_id="demo", demo_secret="sandbox-secret",
)


@pytest.fixture
def demo_app_config(app_config):
    app_config.update(DEMO_EMAIL="demo@example.com", DEMO_PASSWORD="demo password 1",
                      APP_URL="http://127.0.0.1:8123/")
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
        assert connection.base_url.startswith("http://127.0.0.1:8123/sandbox/")
        assert connection.client_id == "demo"
        assert "sandbox-secret" not in connection.client_secret_encrypted
        assert crypto.decrypt(connection.client_secret_encrypted) == "sandbox-secret"
        assert connection.created_by.email == "demo@example.com"
        assert db.session.scalar(select(AuditEvent).where(
            AuditEvent.action == "connection.created")) is not None
