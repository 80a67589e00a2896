"""Sign-up never tells whether an address has an account: the same page either way, a
confirmation link for a new address, a note for a taken one; the link sets the account up."""

from __future__ import annotations

import re
import time

import pytest
from sqlalchemy import func, select

from tests.conftest import PASSWORD
from tests.fixtures.loopback import smtp  # noqa: F401 - fixture
from tests.fixtures.mailbox import confirmation_path, mailbox
from webapp.auth import confirmation
from webapp.extensions import db
from webapp.models import Organization, User


def form(email="ada@example.com", name="Ada Admin", organization="Springfield District"):
    return {"name": name, "email": email, "password": PASSWORD, "confirm": PASSWORD,
            "organization": organization}


def count(app, model) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model))


def _page(response) -> str:
    """The answer as a person sees it, less what differs between any two requests."""
    html = response.get_data(as_text=True)
    html = re.sub(r'name="csrf_token" value="[^"]*"', "", html)
    return re.sub(r'Token": "[^"]*"', "", html)


def test_a_taken_and_a_new_address_get_the_same_answer(app, people):
    people.signup("exists@example.com", "Elsewhere")
    with mailbox() as taken_box:
        taken = app.test_client().post("/signup", data=form("exists@example.com"))
    with mailbox() as new_box:
        new = app.test_client().post("/signup", data=form("newbie@example.com"))
    assert taken.status_code == new.status_code == 200
    assert _page(taken).replace("exists@", "X@") == _page(new).replace("newbie@", "X@")
    assert "Check your email to finish signing up" in _page(new)
    # What differs is only in the mailbox of the address's owner.
    assert taken_box.links == [] and "already has one" in taken_box.messages[0]
    assert len(new_box.links) == 1
    assert count(app, User) == 1 and count(app, Organization) == 1  # nothing made yet


def test_the_link_sets_the_account_and_organization_up(app, client):
    with mailbox() as box:
        assert client.post("/signup", data=form(email=" Ada@Example.COM ")).status_code == 200
    path = confirmation_path(box)
    page = client.get(path).get_data(as_text=True)
    assert "Finish signing up" in page and "ada@example.com" in page
    assert "Springfield District" in page
    assert count(app, User) == 0
    response = client.post(path)
    assert response.status_code == 303
    assert client.get("/connections/").status_code == 200  # signed in
    with app.app_context():
        user = db.session.scalar(select(User))
        assert user.email == "ada@example.com" and user.name == "Ada Admin"
        assert user.memberships[0].organization.name == "Springfield District"
    assert app.test_client().post("/login", data={"email": "ada@example.com",
                                                  "password": PASSWORD}).status_code == 303


def test_the_link_works_once(app, client):
    with mailbox() as box:
        client.post("/signup", data=form())
    path = confirmation_path(box)
    assert client.post(path).status_code == 303
    again = app.test_client().post(path)
    assert again.status_code == 303 and "/login" in again.headers["Location"]
    assert count(app, User) == 1 and count(app, Organization) == 1


def test_the_link_carries_no_readable_password_or_hash(client):
    with mailbox() as box:
        client.post("/signup", data=form())
    token = confirmation_path(box).rsplit("/", 1)[1]
    import base64

    readable = base64.urlsafe_b64decode(token.split(".")[0] + "==")
    assert b"ada@example.com" not in readable and b"pbkdf2" not in readable
    assert PASSWORD.encode() not in readable


def test_an_expired_or_altered_link_is_refused(app, client, monkeypatch):
    with mailbox() as box:
        client.post("/signup", data=form())
    path = confirmation_path(box)
    altered = path[:-3] + ("AAA" if not path.endswith("AAA") else "BBB")
    assert client.get(altered).status_code == 404
    assert client.post(altered).status_code == 404
    later = time.time() + confirmation.LINK_HOURS * 3600 + 60
    monkeypatch.setattr("itsdangerous.timed.time.time", lambda: later)
    response = client.get(path)
    assert response.status_code == 410
    assert "expired" in response.get_data(as_text=True)
    assert client.post(path).status_code == 410
    assert count(app, User) == 0


def test_both_answers_hash_the_password_once(app, people, monkeypatch):
    people.signup("exists@example.com", "Elsewhere")
    calls = []
    real = confirmation.services.hash_password
    monkeypatch.setattr(confirmation.services, "hash_password",
                        lambda password: calls.append(password) or real(password))
    with mailbox():
        app.test_client().post("/signup", data=form("exists@example.com"))
        app.test_client().post("/signup", data=form("newbie@example.com"))
    assert len(calls) == 2


def test_the_link_is_on_the_configured_address_whatever_the_host_header(app, client):
    with mailbox() as box:
        client.post("/signup", data=form(), headers={"Host": "attacker.example"})
    assert box.links[0].startswith(app.config["APP_URL"].rstrip("/") + "/signup/confirm/")


def test_one_address_gets_at_most_five_messages_an_hour(app):
    with mailbox() as box:
        for _ in range(5):
            assert app.test_client().post("/signup", data=form()).status_code == 200
        response = app.test_client().post("/signup", data=form())
    assert response.status_code == 429
    assert "Try again in" in response.get_data(as_text=True)
    assert len(box.messages) == 5
    assert app.test_client().post("/signup", data=form("b@example.com")).status_code == 200


def test_refused_forms_still_say_what_is_wrong(client):
    response = client.post("/signup", data={**form(), "confirm": "something else"})
    assert response.status_code == 422
    assert "The two passwords do not match." in response.get_data(as_text=True)


@pytest.fixture
def mailing_app_config(app_config, smtp):  # noqa: F811 - the smtp fixture
    port, _ = smtp
    app_config.update(SMTP_HOST="127.0.0.1", SMTP_PORT=port, SMTP_SECURITY="none",
                      SMTP_FROM="SDM <sdm@example.org>", APP_URL="https://sdm.example.org/")
    return app_config


def test_with_a_mail_server_both_messages_are_emailed(mailing_app_config, smtp, people):  # noqa: F811
    from webapp import create_app

    _, inbox = smtp
    app = create_app(mailing_app_config)
    with app.app_context():
        db.create_all()
    client = app.test_client()
    with mailbox() as box:
        assert client.post("/signup", data=form("newbie@example.com")).status_code == 200
        assert box.messages == []  # emailed, not logged
    [message] = inbox.to("newbie@example.com")
    assert message["Subject"] == "Finish signing up to SDM"
    link = re.search(r"https://sdm\.example\.org(/signup/confirm/\S+)",
                     message.get_content()).group(1)
    assert client.post(link).status_code == 303
    other = app.test_client()
    assert other.post("/signup", data=form("newbie@example.com")).status_code == 200
    [note] = inbox.to("newbie@example.com")[1:]
    assert note["Subject"] == "Someone tried to sign up to SDM with your address"
    assert "/signup/confirm/" not in note.get_content()
    with app.app_context():
        app.extensions["sdm.jobs"].shutdown()
        db.session.remove()
        db.drop_all()
        db.engine.dispose()


def test_demo_mode_tells_the_operator_where_the_message_went(app, client):
    app.config["DEMO"] = True
    with mailbox():
        page = client.post("/signup", data=form()).get_data(as_text=True)
    assert "written to the server" in page
    app.config["DEMO"] = False
    with mailbox():
        page = client.post("/signup", data=form("b@example.com")).get_data(as_text=True)
    assert "written to the server" not in page
