"""Sign up, sign in, sign out: what a person sees at the door."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from tests.fixtures.accounts import PASSWORD, active_org
from tests.fixtures.mailbox import confirmation_path, mailbox
from webapp.extensions import db
from webapp.models import Membership, Organization, Role, User


def _users(app) -> list[User]:
    with app.app_context():
        return list(db.session.scalars(select(User)))


def test_signup_page_has_a_working_form(client):
    html = client.get("/signup").get_data(as_text=True)
    assert 'method="post" action="/signup"' in html
    for name in ("name", "email", "password", "confirm", "organization"):
        assert f'name="{name}"' in html


def test_signup_creates_account_and_organization_with_its_admin(app, client, auth):
    response = auth.signup(email="  Ada@Example.COM ", organization="Springfield District")
    assert response.status_code == 303
    page = client.get("/orgs/members").get_data(as_text=True)
    assert active_org(page) == "Springfield District"
    assert "Ada Admin" in page and "Admin" in page
    with app.app_context():
        user = db.session.scalar(select(User))
        assert user.email == "ada@example.com"
        assert user.password_hash != PASSWORD and PASSWORD not in user.password_hash
        membership = db.session.scalar(select(Membership))
        assert membership.role == Role.ADMIN
        assert membership.organization.name == "Springfield District"


def test_passwords_are_stored_as_salted_scrypt_hashes(app, auth):
    app.config.pop("PASSWORD_HASH_METHOD")  # the app's own default, not the fast test hash
    auth.signup(email="a@example.com")
    auth.logout()
    auth.signup(email="b@example.com")
    first, second = (u.password_hash for u in _users(app))
    assert first.startswith("scrypt:") and second.startswith("scrypt:")
    assert first != second  # same password, different salt


def test_a_second_sign_up_with_an_address_makes_nothing_whatever_its_case(app, auth):
    auth.signup(email="ada@example.com")
    auth.logout()
    with mailbox() as box:
        response = auth.signup(email="ADA@example.com", name="Ada Again", organization="Other")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Check your email to finish signing up" in html
    assert PASSWORD not in html
    assert box.links == [] and "already has one" in box.messages[0]
    assert len(_users(app)) == 1
    with app.app_context():
        assert db.session.scalar(select(Organization).where(Organization.name == "Other")) is None


@pytest.mark.parametrize(("field", "value", "message"), [
    ("email", "not-an-email", "Enter an email address like name@school.org."),
    ("email", "", "Enter your email address."),
    ("name", "", "Enter your name."),
    ("organization", "   ", "Enter the name of your school or district."),
    ("password", "short", "Use between 8 and 128 characters."),
    ("confirm", "something else entirely", "The two passwords do not match."),
])
def test_signup_shows_inline_errors_and_keeps_what_was_typed(app, client, field, value, message):
    data = {"name": "Ada Admin", "email": "ada@example.com", "password": PASSWORD,
            "confirm": PASSWORD, "organization": "Springfield District", field: value}
    response = client.post("/signup", data=data)
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert message in html
    assert 'aria-invalid="true"' in html
    for kept in ("name", "email", "organization"):
        if kept != field:
            assert f'value="{data[kept]}"' in html
    assert PASSWORD not in html and "something else entirely" not in html
    assert _users(app) == []


def test_sign_in_with_the_right_password(client, auth):
    auth.signup()
    auth.logout()
    response = auth.login(email="ADA@example.com")
    assert response.status_code == 303
    assert active_org(client.get("/orgs/members").get_data(as_text=True)) == "Springfield District"


@pytest.mark.parametrize("email", ["ada@example.com", "nobody@example.com"])
def test_wrong_password_or_unknown_email_gets_one_message(client, auth, email):
    auth.signup()
    auth.logout()
    response = client.post("/login", data={"email": email, "password": "wrong password!"})
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "The email or password is not right. Try again." in html
    assert f'value="{email}"' in html
    assert "wrong password!" not in html
    assert client.get("/orgs/members").status_code == 302


def test_pages_need_sign_in_and_come_back_after_it(client, auth):
    auth.signup()
    auth.logout()
    response = client.get("/orgs/members")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=")
    form = client.get(response.headers["Location"]).get_data(as_text=True)
    assert 'name="next" type="hidden" value="/orgs/members"' in form
    response = client.post("/login", data={"email": "ada@example.com", "password": PASSWORD,
                                           "next": "/orgs/members"})
    assert response.headers["Location"] == "/orgs/members"


@pytest.mark.parametrize("target", [
    "https://evil.example/", "//evil.example/x", "/\\evil.example", "javascript:alert(1)",
    "orgs/members",
])
def test_sign_in_never_sends_a_person_off_site(auth, client, target):
    auth.signup()
    auth.logout()
    response = client.post("/login", data={"email": "ada@example.com", "password": PASSWORD,
                                           "next": target})
    assert response.status_code == 303
    assert response.headers["Location"] == "/"


def test_sign_out_ends_the_session(client, auth):
    auth.signup()
    response = auth.logout()
    assert response.status_code == 303
    assert response.headers["Location"] == "/login"
    assert "You have signed out." in client.get("/login").get_data(as_text=True)
    assert client.get("/orgs/members").status_code == 302


def test_sign_out_needs_a_post(client, auth):
    auth.signup()
    assert client.get("/logout").status_code == 405
    assert client.get("/orgs/members").status_code == 200


def test_signed_in_person_is_sent_past_the_sign_in_page(client, auth):
    auth.signup()
    assert client.get("/login").status_code == 302
    assert client.get("/signup").status_code == 302


def test_in_demo_mode_the_sign_in_page_names_the_demo_account(app, client):
    assert 'data-testid="demo-sign-in"' not in client.get("/login").get_data(as_text=True)
    app.config["DEMO"] = True
    page = client.get("/login").get_data(as_text=True)
    assert "<code>admin@example.com</code>" in page and "Demo mode" in page
    assert app.config["DEMO_PASSWORD"] not in page  # the password stays in the terminal


def test_a_link_whose_account_was_set_up_meanwhile_says_so_and_makes_nothing(
        app, client, auth, monkeypatch):
    data = {"name": "Ada Admin", "email": "ada@example.com", "password": PASSWORD,
            "confirm": PASSWORD, "organization": "Springfield District"}
    links = []
    for _ in range(2):  # two sign-ups, two links, before either is opened
        with mailbox() as box:
            client.post("/signup", data=data)
        links.append(confirmation_path(box))
    assert client.post(links[0]).status_code == 303
    auth.logout()
    # The second link's look-up ran before the first set the account up: a race.
    monkeypatch.setattr("webapp.auth.services.find_user", lambda email: None)
    response = client.post(links[1])
    assert response.status_code == 303 and response.headers["Location"].endswith("/login")
    assert "your account is set up" in client.get("/login").get_data(as_text=True)
    assert len(_users(app)) == 1
