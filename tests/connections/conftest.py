"""Fixtures of the connection tests: two organizations, their people, saved connections."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from webapp.extensions import db
from webapp.models import Membership, Organization, Role, User

SECRET = "s3cr3t-Pa55-never-shown-9f2c"

VALID = {
    "name": "Springfield PowerSchool",
    "provider": "custom",
    "base_url": "https://sis.example.org/ims/oneroster/rostering/v1p2",
    "client_id": "sdm-client",
    "client_secret": SECRET,
    "auth_url": "https://sis.example.org/oauth/token",
    "proxy_country": "",
    "oneroster_version": "1.2",
    "auth_method": "oauth2_basic",
    "scopes": "",
}


@dataclass
class People:
    admin_id: int
    member_id: int
    outsider_id: int
    org_id: int
    other_org_id: int


@pytest.fixture
def people(app) -> People:
    """Springfield (admin Ada, member Max) and Shelbyville (admin Olga), stored directly."""
    return make_people(app)


def make_people(app) -> People:
    """Store Springfield (admin Ada, member Max) and Shelbyville (admin Olga)."""
    with app.app_context():
        springfield = Organization(name="Springfield District")
        shelbyville = Organization(name="Shelbyville District")
        users = {}
        for key, name, org, role in (("admin", "Ada Admin", springfield, Role.ADMIN),
                                     ("member", "Max Member", springfield, Role.MEMBER),
                                     ("outsider", "Olga Outsider", shelbyville, Role.ADMIN)):
            user = User(email=f"{key}@example.com", name=name, password_hash="unused")
            user.memberships.append(Membership(organization=org, role=role))
            db.session.add(user)
            users[key] = user
        db.session.commit()
        return People(admin_id=users["admin"].id, member_id=users["member"].id,
                      outsider_id=users["outsider"].id, org_id=springfield.id,
                      other_org_id=shelbyville.id)


@pytest.fixture
def login(client):
    """Sign a person in by setting the Flask-Login session (independent of the auth pages)."""

    def sign_in(user_id: int) -> None:
        with client.session_transaction() as session:
            session.clear()
            session["_user_id"] = str(user_id)
            session["_fresh"] = True

    return sign_in


@pytest.fixture
def create(client):
    """Post the connection form; returns the response."""

    def post(**overrides):
        return client.post("/connections/", data={**VALID, **overrides})

    return post


@pytest.fixture
def saved(app, people, login, create):
    """A connection of Springfield, saved by its admin (who stays signed in)."""
    login(people.admin_id)
    response = create()
    assert response.status_code == 303, response.get_data(as_text=True)
    with app.app_context():
        from webapp.models import Connection

        return db.session.scalar(db.select(Connection.id))
