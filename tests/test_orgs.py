"""Organizations: switching, creating, members, roles, invites and who may do what."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from tests.fixtures.accounts import PASSWORD, active_org
from tests.fixtures.mailbox import confirmation_path, mailbox
from webapp.extensions import db
from webapp.models import Invite, Membership, Role, User
from webapp.models.common import utcnow

HX = {"HX-Request": "true"}


@pytest.fixture
def ada(people):
    """Ada, admin of Springfield District."""
    return people.signup("ada@example.com", "Springfield District", name="Ada Admin")


@pytest.fixture
def bob(people, ada):
    """Bob, a member of Springfield District."""
    return people.join("bob@example.com", "Springfield District", name="Bob Member")


@pytest.fixture
def eve(people):
    """Eve, admin of another organization."""
    return people.signup("eve@example.com", "Shelbyville Schools", name="Eve Elsewhere")


def _role(app, people, email, organization="Springfield District"):
    membership_id = people.membership_id(email, organization)
    if membership_id is None:
        return None
    with app.app_context():
        return db.session.get(Membership, membership_id).role


# Organizations and switching


def test_create_another_organization_and_work_in_it(ada):
    form = ada.get("/orgs/new").get_data(as_text=True)
    assert 'action="/orgs/new"' in form
    response = ada.post("/orgs/new", data={"name": "Capital City Schools"})
    assert response.status_code == 303
    page = ada.get("/orgs/members").get_data(as_text=True)
    assert active_org(page) == "Capital City Schools"
    assert "Created Capital City Schools. You are its admin." in page
    assert "Add a member" in page  # admin controls: Ada administers the new organization


def test_the_only_admin_is_told_why_instead_of_offered_buttons_that_fail(ada, bob):
    html = ada.get("/orgs/members").get_data(as_text=True)
    ada_row = html[html.index("Ada Admin"):html.index("Bob Member")]
    assert "The only admin: make someone else admin before you leave or step down." in ada_row
    assert "Make member" not in ada_row and "Leave" not in ada_row
    assert "Make admin" in html and "Remove" in html  # Bob's row keeps its controls


def test_organization_name_is_required(ada):
    response = ada.post("/orgs/new", data={"name": "  "})
    assert response.status_code == 422
    assert "Enter the name of your school or district." in response.get_data(as_text=True)


def test_switch_between_organizations(people, ada):
    ada.post("/orgs/new", data={"name": "Capital City Schools"})
    springfield = people.org_id("Springfield District")
    response = ada.post(f"/orgs/{springfield}/switch")
    assert response.status_code == 303
    page = ada.get("/orgs/members").get_data(as_text=True)
    assert active_org(page) == "Springfield District"
    assert "You are now working in Springfield District." in page
    assert "Capital City Schools" in page  # still offered in the switcher


def test_switching_to_someone_elses_organization_is_404(people, ada, eve):
    response = ada.post(f"/orgs/{people.org_id('Shelbyville Schools')}/switch")
    assert response.status_code == 404
    assert active_org(ada.get("/orgs/members").get_data(as_text=True)) == "Springfield District"


# Members and roles


def test_members_page_lists_people_and_roles(ada, bob):
    html = ada.get("/orgs/members").get_data(as_text=True)
    assert "Ada Admin" in html and "bob@example.com" in html
    assert "badge-role-admin" in html and "badge-role-member" in html


def test_member_sees_the_list_but_no_admin_controls(bob):
    html = bob.get("/orgs/members").get_data(as_text=True)
    assert "Ada Admin" in html and "Bob Member" in html
    for control in ("Make admin", "Make member", "Remove", "Add a member", "Audit log"):
        assert control not in html


def test_member_cannot_reach_admin_endpoints(app, people, ada, bob):
    ada_id = people.membership_id("ada@example.com", "Springfield District")
    ada.post("/orgs/members", data={"email": "new@example.com", "role": "member"})
    with app.app_context():
        invite_id = db.session.scalar(select(Invite.id))
    attempts = [
        ("/orgs/members", {"email": "x@example.com", "role": "admin"}),
        (f"/orgs/members/{ada_id}/role", {"role": "member"}),
        (f"/orgs/members/{ada_id}/remove", {}),
        (f"/orgs/invites/{invite_id}/revoke", {}),
    ]
    for url, data in attempts:
        assert bob.post(url, data=data).status_code == 403, url
        assert bob.post(url, data=data, headers=HX).status_code == 403, url
    assert bob.get("/orgs/audit").status_code == 403
    assert _role(app, people, "ada@example.com") == Role.ADMIN
    with app.app_context():
        assert db.session.get(Invite, invite_id) is not None


def test_admin_invites_an_existing_account_who_joins_on_accepting(app, people, ada, eve):
    response = ada.post("/orgs/members", data={"email": "EVE@example.com", "role": "admin"})
    assert response.status_code == 303
    html = ada.get("/orgs/members").get_data(as_text=True)
    assert "Invite link for eve@example.com" in html
    springfield = people.org_id("Springfield District")
    assert eve.post(f"/orgs/{springfield}/switch").status_code == 404  # not yet a member
    invitations = eve.get("/orgs/invitations").get_data(as_text=True)
    invite_id = re.search(r"/orgs/invitations/(\d+)/accept", invitations).group(1)
    assert eve.post(f"/orgs/invitations/{invite_id}/accept").status_code == 303
    assert _role(app, people, "eve@example.com") == Role.ADMIN
    # Eve now belongs to both organizations and can switch to Springfield.
    assert eve.post(f"/orgs/{springfield}/switch").status_code == 303


def test_adding_someone_who_is_already_a_member_says_so(ada, bob):
    response = ada.post("/orgs/members", data={"email": "bob@example.com", "role": "member"})
    assert response.status_code == 422
    assert "is already a member of Springfield District" in response.get_data(as_text=True)


def test_add_member_form_shows_inline_errors(ada):
    response = ada.post("/orgs/members", data={"email": "nope", "role": "owner"})
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "Enter an email address like name@school.org." in html
    assert 'value="nope"' in html


def test_admin_promotes_and_demotes_without_javascript(app, people, ada, bob):
    bob_id = people.membership_id("bob@example.com", "Springfield District")
    response = ada.post(f"/orgs/members/{bob_id}/role", data={"role": "admin"})
    assert response.status_code == 303
    assert "Bob Member is now an admin." in ada.get("/orgs/members").get_data(as_text=True)
    assert _role(app, people, "bob@example.com") == Role.ADMIN
    ada.post(f"/orgs/members/{bob_id}/role", data={"role": "member"})
    assert _role(app, people, "bob@example.com") == Role.MEMBER


def test_role_change_with_htmx_replaces_the_row(app, people, ada, bob):
    bob_id = people.membership_id("bob@example.com", "Springfield District")
    response = ada.post(f"/orgs/members/{bob_id}/role", data={"role": "admin"}, headers=HX)
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "HX-Request" in response.headers["Vary"]
    assert "<html" not in html
    assert f'<tr id="member-{bob_id}" hx-target="this" hx-swap="outerHTML">' in html
    assert "Make member" in html and "badge-role-admin" in html
    assert "Bob Member is now an admin." in html  # announced in the alerts region
    assert _role(app, people, "bob@example.com") == Role.ADMIN


def test_the_last_admin_cannot_be_demoted(app, people, ada, bob):
    ada_id = people.membership_id("ada@example.com", "Springfield District")
    response = ada.post(f"/orgs/members/{ada_id}/role", data={"role": "member"})
    assert response.status_code == 303
    html = ada.get("/orgs/members").get_data(as_text=True)
    assert ("Ada Admin is the last admin of Springfield District and cannot be demoted. "
            "Make another member an admin first.") in html
    assert _role(app, people, "ada@example.com") == Role.ADMIN


def test_the_last_admin_cannot_be_removed_htmx_says_why_in_the_row(app, people, ada, bob):
    ada_id = people.membership_id("ada@example.com", "Springfield District")
    response = ada.post(f"/orgs/members/{ada_id}/remove", headers=HX)
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert f'id="member-{ada_id}"' in html
    assert "is the last admin of Springfield District and cannot be removed" in html
    assert _role(app, people, "ada@example.com") == Role.ADMIN


def test_with_a_second_admin_an_admin_may_step_down(app, people, ada, bob):
    bob_id = people.membership_id("bob@example.com", "Springfield District")
    ada_id = people.membership_id("ada@example.com", "Springfield District")
    ada.post(f"/orgs/members/{bob_id}/role", data={"role": "admin"})
    response = ada.post(f"/orgs/members/{ada_id}/role", data={"role": "member"}, headers=HX)
    assert response.headers["HX-Redirect"] == "/"  # her page no longer fits her role
    assert _role(app, people, "ada@example.com") == Role.MEMBER
    assert "Make admin" not in ada.get("/orgs/members").get_data(as_text=True)


def test_admin_removes_a_member(app, people, ada, bob):
    bob_id = people.membership_id("bob@example.com", "Springfield District")
    response = ada.post(f"/orgs/members/{bob_id}/remove", headers=HX)
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert f'id="member-{bob_id}"' not in html  # the row disappears
    assert "Removed Bob Member from Springfield District." in html
    assert _role(app, people, "bob@example.com") is None
    with app.app_context():  # the account itself stays
        assert db.session.scalar(select(User).where(User.email == "bob@example.com"))
    assert bob.get("/orgs/members").status_code == 404


def test_another_organizations_members_are_404(app, people, ada, bob, eve):
    bob_id = people.membership_id("bob@example.com", "Springfield District")
    ada.post("/orgs/members", data={"email": "pending@example.com", "role": "member"})
    with app.app_context():
        invite_id = db.session.scalar(select(Invite.id))
    for url, data in [(f"/orgs/members/{bob_id}/role", {"role": "admin"}),
                      (f"/orgs/members/{bob_id}/remove", {}),
                      (f"/orgs/invites/{invite_id}/revoke", {})]:
        assert eve.post(url, data=data).status_code == 404, url
    assert "Bob Member" not in eve.get("/orgs/members").get_data(as_text=True)
    assert _role(app, people, "bob@example.com") == Role.MEMBER


def test_a_member_elsewhere_gets_404_not_403(people, ada, eve):
    """Lookup comes before the role check: even a non-admin learns nothing about other orgs."""
    people.join("mallory@example.com", "Shelbyville Schools")
    mallory = people.login("mallory@example.com")
    ada_id = people.membership_id("ada@example.com", "Springfield District")
    assert mallory.post(f"/orgs/members/{ada_id}/role", data={"role": "member"}).status_code == 404


# Invites


def _invite_link(admin, email, role="member"):
    response = admin.post("/orgs/members", data={"email": email, "role": role})
    assert response.status_code == 303
    html = admin.get("/orgs/members").get_data(as_text=True)
    start = html.index("http://localhost/invite/")
    return html[start:html.index('"', start)], html


def test_inviting_an_unknown_email_shows_a_one_time_link(app, ada):
    link, html = _invite_link(ada, "New.Teacher@example.com")
    assert "Invite link for new.teacher@example.com" in html
    assert "It works once and expires in 7 days." in html
    assert "new.teacher@example.com" in html  # listed under pending invites
    assert link not in ada.get("/orgs/members").get_data(as_text=True)  # shown only once
    token = link.rsplit("/", 1)[1]
    with app.app_context():
        invite = db.session.scalar(select(Invite))
        assert invite.email == "new.teacher@example.com"
        assert token not in invite.token_hash
        assert timedelta(days=6) < invite.expires_at - utcnow() <= timedelta(days=7)


def test_invited_person_signs_up_with_the_invited_email(app, client, people, ada):
    link, _ = _invite_link(ada, "carol@example.com", role="admin")
    path = link.replace("http://localhost", "")
    page = client.get(path).get_data(as_text=True)
    assert "Join Springfield District" in page
    assert 'value="carol@example.com" readonly' in page
    with mailbox() as box:
        response = client.post(path, data={"name": "Carol", "password": PASSWORD,
                                           "confirm": PASSWORD, "email": "mallory@example.com"})
    assert response.status_code == 200  # "Check your email", whoever holds the link
    assert "Check your email to finish signing up" in response.get_data(as_text=True)
    assert "carol@example.com" in box.messages[0] and "mallory" not in box.messages[0]
    response = client.post(confirmation_path(box))
    assert response.status_code == 303
    members = client.get("/orgs/members").get_data(as_text=True)
    assert active_org(members) == "Springfield District"
    assert "You joined Springfield District" in members
    assert _role(app, people, "carol@example.com") == Role.ADMIN
    # Used up: the link no longer works, for anyone.
    client.post("/logout")
    response = client.get(path)
    assert response.status_code == 404
    assert "This invite link does not work" in response.get_data(as_text=True)


def test_invite_sign_up_keeps_errors_inline(client, ada):
    link, _ = _invite_link(ada, "carol@example.com")
    path = link.replace("http://localhost", "")
    response = client.post(path, data={"name": "Carol", "password": PASSWORD, "confirm": "x"})
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "The two passwords do not match." in html and 'value="Carol"' in html


def test_signed_in_person_with_the_invited_email_joins(app, people, ada):
    link, _ = _invite_link(ada, "dan@example.com")
    dan = people.signup("dan@example.com", "Dan's School", name="Dan")
    path = link.replace("http://localhost", "")
    assert "Join Springfield District" in dan.get(path).get_data(as_text=True)
    assert dan.post(path).status_code == 303
    assert active_org(dan.get("/orgs/members").get_data(as_text=True)) == "Springfield District"
    assert _role(app, people, "dan@example.com") == Role.MEMBER


def test_invite_for_someone_else_is_refused(app, people, ada, eve):
    link, _ = _invite_link(ada, "carol@example.com")
    path = link.replace("http://localhost", "")
    response = eve.post(path)
    assert response.status_code == 403
    assert "this invite is for carol@example.com" in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(select(Invite)).accepted_at is None


def test_expired_and_revoked_invites_do_not_work(app, client, ada):
    link, _ = _invite_link(ada, "late@example.com")
    path = link.replace("http://localhost", "")
    with app.app_context():
        invite = db.session.scalar(select(Invite))
        invite.expires_at = utcnow() - timedelta(minutes=1)
        db.session.commit()
    assert client.get(path).status_code == 404
    link, _ = _invite_link(ada, "gone@example.com")
    with app.app_context():
        invite_id = db.session.scalar(select(Invite.id).where(Invite.email == "gone@example.com"))
    assert ada.post(f"/orgs/invites/{invite_id}/revoke").status_code == 303
    assert client.get(link.replace("http://localhost", "")).status_code == 404
    assert client.get("/invite/made-up-token").status_code == 404


def test_a_new_invite_replaces_the_old_link(client, ada):
    first, _ = _invite_link(ada, "carol@example.com")
    second, _ = _invite_link(ada, "carol@example.com")
    assert client.get(first.replace("http://localhost", "")).status_code == 404
    assert client.get(second.replace("http://localhost", "")).status_code == 200
