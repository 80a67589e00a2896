"""Membership by invitation only: nobody joins without accepting; nothing tells who exists."""

from __future__ import annotations

import re

from sqlalchemy import select

from tests.conftest import PASSWORD
from tests.fixtures.mailbox import confirmation_path, mailbox
from webapp.extensions import db
from webapp.models import Invite, User


def _invite(admin, email: str) -> str:
    response = admin.post("/orgs/members", data={"email": email, "role": "member"})
    assert response.status_code == 303
    page = admin.get("/orgs/members").get_data(as_text=True)
    return re.search(r'value="(http://localhost/invite/[^"]+)"', page).group(1)


def test_an_existing_account_is_invited_not_added(app, people):
    admin = people.signup("olga@example.com", "Shelbyville")
    victim = people.signup("vic@example.com", "Springfield")
    link = _invite(admin, "vic@example.com")
    # Nothing changed for the invited person until they accept.
    assert "Shelbyville" not in victim.get("/connections/").get_data(as_text=True)
    members = admin.get("/orgs/members").get_data(as_text=True)
    assert "vic@example.com" in members  # as a pending invite, not a member
    assert members.count("Vic") == 0

    # The invitation waits for them in SDM, and they choose.
    listed = victim.get("/orgs/invitations").get_data(as_text=True)
    assert "Shelbyville" in listed
    invite_id = re.search(r"/orgs/invitations/(\d+)/accept", listed).group(1)
    assert victim.post(f"/orgs/invitations/{invite_id}/accept").status_code == 303
    assert "Shelbyville" in victim.get("/connections/").get_data(as_text=True)
    assert link.startswith("http://localhost/invite/")


def test_an_invitation_can_be_declined(app, people):
    admin = people.signup("olga@example.com", "Shelbyville")
    victim = people.signup("vic@example.com", "Springfield")
    _invite(admin, "vic@example.com")
    listed = victim.get("/orgs/invitations").get_data(as_text=True)
    invite_id = re.search(r"/orgs/invitations/(\d+)/decline", listed).group(1)
    assert victim.post(f"/orgs/invitations/{invite_id}/decline").status_code == 303
    assert f"/orgs/invitations/{invite_id}/accept" not in \
        victim.get("/orgs/invitations").get_data(as_text=True)
    assert victim.post(f"/orgs/invitations/{invite_id}/accept").status_code == 404


def test_someone_elses_invitation_cannot_be_accepted(app, people):
    admin = people.signup("olga@example.com", "Shelbyville")
    _invite(admin, "vic@example.com")
    mallory = people.signup("mallory@example.com", "Ogdenville")
    listed = admin.get("/orgs/members").get_data(as_text=True)
    invite_id = re.search(r"/orgs/invites/(\d+)/revoke", listed).group(1)
    assert mallory.post(f"/orgs/invitations/{invite_id}/accept").status_code == 404


def _normalise(page: str) -> str:
    page = re.sub(r'name="csrf_token" value="[^"]+"', "", page)
    page = re.sub(r'"X-CSRFToken": "[^"]+"', "", page)
    page = re.sub(r"/invite/[A-Za-z0-9_-]+", "/invite/TOKEN", page)
    page = re.sub(r"\d{1,2} \w{3} \d{4}", "DATE", page)
    return page.replace("exists@example.com", "EMAIL").replace("new@example.com", "EMAIL")


def test_inviting_reads_the_same_whether_the_account_exists_or_not(app, people, client):
    people.signup("exists@example.com", "Elsewhere")
    admin = people.signup("olga@example.com", "Shelbyville")
    pages = []
    for email in ("exists@example.com", "new@example.com"):
        link = _invite(admin, email)
        path = link.replace("http://localhost", "")
        pages.append(_normalise(app.test_client().get(path).get_data(as_text=True)))
    assert pages[0] == pages[1]


def test_sign_up_with_a_taken_email_does_not_say_an_account_exists(people, auth):
    people.signup("exists@example.com", "Elsewhere")
    response = auth.signup(email="exists@example.com", password=PASSWORD)
    body = response.get_data(as_text=True)
    assert response.status_code == 200  # "Check your email", as for a new address
    assert "already exists" not in body
    assert "already has an account" not in body


def test_an_invite_link_does_not_tell_its_holder_whether_the_email_has_an_account(
        app, people):
    """The admin holds the link too: signing up through it answers the same either way."""
    people.signup("exists@example.com", "Elsewhere")
    admin = people.signup("boss@example.com", "Springfield")
    answers, boxes = [], []
    for email in ("exists@example.com", "newbie@example.com"):
        path = _invite(admin, email).replace("http://localhost", "")
        with mailbox() as box:
            response = app.test_client().post(path, data={
                "name": "Someone", "password": PASSWORD, "confirm": PASSWORD})
        assert response.status_code == 200
        answers.append(_normalise(response.get_data(as_text=True).replace(email, "X")))
        boxes.append(box)
    assert answers[0] == answers[1]
    assert boxes[0].links == [] and "already has one" in boxes[0].messages[0]
    assert len(boxes[1].links) == 1
    # The existing account is untouched and did not join.
    with app.app_context():
        user = db.session.scalar(select(User).where(User.email == "exists@example.com"))
        assert [m.organization.name for m in user.memberships] == ["Elsewhere"]


def test_a_confirmation_link_for_a_revoked_invite_does_not_work(app, people):
    admin = people.signup("boss@example.com", "Springfield")
    path = _invite(admin, "newbie@example.com").replace("http://localhost", "")
    client = app.test_client()
    with mailbox() as box:
        client.post(path, data={"name": "New", "password": PASSWORD, "confirm": PASSWORD})
    with app.app_context():
        invite_id = db.session.scalar(select(Invite.id))
    assert admin.post(f"/orgs/invites/{invite_id}/revoke").status_code == 303
    assert client.post(confirmation_path(box)).status_code == 404
    with app.app_context():
        assert db.session.scalar(select(User).where(User.email == "newbie@example.com")) is None
