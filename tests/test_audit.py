"""The audit log: member changes are recorded, and only the organization's admins read them."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from tests.fixtures.mailbox import confirmation_path, mailbox
from webapp import audit
from webapp.extensions import db
from webapp.models import AuditEvent

HX = {"HX-Request": "true"}


@pytest.fixture
def ada(people):
    return people.signup("ada@example.com", "Springfield District", name="Ada Admin")


def _actions(app, organization_id):
    with app.app_context():
        return [e.action for e in db.session.scalars(
            select(AuditEvent).where(AuditEvent.organization_id == organization_id)
            .order_by(AuditEvent.id))]


def test_member_changes_are_recorded_and_shown(app, people, ada):
    eve = people.signup("eve@example.com", "Shelbyville Schools", name="Eve Elsewhere")
    ada.post("/orgs/members", data={"email": "eve@example.com", "role": "member"})
    invitations = eve.get("/orgs/invitations").get_data(as_text=True)
    eve.post(re.search(r"/orgs/invitations/\d+/accept", invitations).group(0))
    ada.post("/orgs/members", data={"email": "newbie@example.com", "role": "member"})
    eve_id = people.membership_id("eve@example.com", "Springfield District")
    ada.post(f"/orgs/members/{eve_id}/role", data={"role": "admin"}, headers=HX)
    ada.post(f"/orgs/members/{eve_id}/remove")

    springfield = people.org_id("Springfield District")
    assert _actions(app, springfield) == ["org.created", "member.invited", "member.joined",
                                          "member.invited", "member.role_changed",
                                          "member.removed"]
    html = ada.get("/orgs/audit").get_data(as_text=True)
    for summary in ("Created the organization Springfield District",
                    "Invited eve@example.com as member",
                    "Eve Elsewhere (eve@example.com) accepted an invite as member",
                    "Invited newbie@example.com as member",
                    "Changed Eve Elsewhere (eve@example.com) from member to admin",
                    "Removed Eve Elsewhere (eve@example.com)"):
        assert summary in html
    assert html.count("ada@example.com") >= 5  # who did it
    assert html.index("Removed Eve") < html.index("Created the organization")  # newest first


def test_invite_token_never_reaches_the_audit_log(app, ada):
    ada.post("/orgs/members", data={"email": "newbie@example.com", "role": "member"})
    page = ada.get("/orgs/members").get_data(as_text=True)
    start = page.index("/invite/") + len("/invite/")
    token = page[start:page.index('"', start)]
    with app.app_context():
        for event in db.session.scalars(select(AuditEvent)):
            assert token not in f"{event.summary} {event.details}"
    assert token not in ada.get("/orgs/audit").get_data(as_text=True)


def test_accepting_an_invite_is_recorded_as_the_new_member(app, client, people, ada):
    ada.post("/orgs/members", data={"email": "carol@example.com", "role": "member"})
    page = ada.get("/orgs/members").get_data(as_text=True)
    start = page.index("/invite/")
    path = page[start:page.index('"', start)]
    with mailbox() as box:
        client.post(path, data={"name": "Carol", "password": "lantern orchard velvet minnow",
                                "confirm": "lantern orchard velvet minnow"})
    client.post(confirmation_path(box))  # the link the invitee is emailed
    html = ada.get("/orgs/audit").get_data(as_text=True)
    assert "Carol (carol@example.com) accepted an invite as member" in html
    assert "member.joined" in _actions(app, people.org_id("Springfield District"))


def test_only_admins_see_the_audit_log(people, ada):
    bob = people.join("bob@example.com", "Springfield District")
    assert bob.get("/orgs/audit").status_code == 403
    assert "/orgs/audit" not in bob.get("/orgs/members").get_data(as_text=True)
    assert "/orgs/audit" in ada.get("/orgs/members").get_data(as_text=True)


def test_the_log_shows_only_the_active_organizations_events(people, ada):
    eve = people.signup("eve@example.com", "Shelbyville Schools")
    ada.post("/orgs/members", data={"email": "secret-hire@example.com", "role": "member"})
    html = eve.get("/orgs/audit").get_data(as_text=True)
    assert "Created the organization Shelbyville Schools" in html
    assert "Springfield" not in html and "secret-hire" not in html


def test_the_log_is_paged_newest_first(app, people, ada):
    springfield = people.org_id("Springfield District")
    with app.app_context():
        for number in range(1, 61):
            audit.record("test.event", f"Event number {number:02d}", organization_id=springfield)
        db.session.commit()
    first = ada.get("/orgs/audit").get_data(as_text=True)
    assert first.count("<time ") == 50
    assert "Event number 60" in first and "Event number 11" in first
    assert "Event number 10" not in first
    assert "Page 1 of 2" in first and 'href="/orgs/audit?page=2"' in first
    second = ada.get("/orgs/audit?page=2").get_data(as_text=True)
    assert "Event number 10" in second and "Created the organization" in second
    assert 'href="/orgs/audit?page=1"' in second
    assert ada.get("/orgs/audit?page=nonsense").status_code == 200
    beyond = ada.get("/orgs/audit?page=9").get_data(as_text=True)
    assert "Nothing recorded yet on this page." in beyond


def _event(app, organization_id, action, summary, *, actor_id=None, target_id=None,
           seconds_ago=0, **details):
    from datetime import timedelta

    from webapp.models.common import utcnow

    with app.app_context():
        event = AuditEvent(organization_id=organization_id, actor_id=actor_id, action=action,
                           summary=summary, target_type="connection" if target_id else None,
                           target_id=str(target_id) if target_id else None, details=details,
                           created_at=utcnow() - timedelta(seconds=seconds_ago))
        db.session.add(event)
        db.session.commit()


def test_the_log_filters_by_action_person_and_connection(app, people, ada):
    springfield = people.org_id("Springfield District")
    people.join("bob@example.com", "Springfield District")
    with app.app_context():
        from webapp.models import User
        bob_id = db.session.scalar(select(User.id).where(User.email == "bob@example.com"))
    _event(app, springfield, "connection.tested", "Tested North", actor_id=bob_id, target_id=7)
    _event(app, springfield, "connection.tested", "Tested South", target_id=8)
    _event(app, springfield, "connection.edited", "Edited North", actor_id=bob_id, target_id=7)

    page = ada.get("/orgs/audit").get_data(as_text=True)
    assert '<option value="connection.tested">' in page and ">Bob" in page
    by_action = ada.get("/orgs/audit?action=connection.tested").get_data(as_text=True)
    assert "Tested North" in by_action and "Tested South" in by_action
    assert "Edited North" not in by_action
    by_person = ada.get(f"/orgs/audit?person={bob_id}").get_data(as_text=True)
    assert "Tested North" in by_person and "Tested South" not in by_person
    by_sdm = ada.get("/orgs/audit?person=sdm").get_data(as_text=True)
    assert "Tested South" in by_sdm and "Tested North" not in by_sdm
    by_connection = ada.get("/orgs/audit?connection=7&action=connection.tested").text
    assert "Tested North" in by_connection and "Tested South" not in by_connection
    assert "Edited North" not in by_connection
    # The download holds what the filters show.
    assert 'href="/orgs/audit.csv?action=connection.tested&amp;connection=7"' in by_connection
    nothing = ada.get("/orgs/audit?action=no.such").get_data(as_text=True)
    assert "Nothing matches these filters" in nothing
    for beyond in ("person=99999999999999999999", "connection=99999999999999999999",
                   "person=%C2%B2", "connection=-7"):  # no such id: nothing, not an error
        answer = ada.get(f"/orgs/audit?{beyond}")
        assert answer.status_code == 200, beyond
        assert "Nothing matches these filters" in answer.text, beyond
        assert ada.get(f"/orgs/audit.csv?{beyond}").status_code == 200, beyond


def test_the_log_downloads_as_csv(app, people, ada):
    springfield = people.org_id("Springfield District")
    _event(app, springfield, "connection.tested", "=HYPERLINK(\"x\")", target_id=7, outcome="ok")
    response = ada.get("/orgs/audit.csv?connection=7")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    import csv
    import io
    lines = list(csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))
    assert lines[0][:5] == ["time_utc", "person", "email", "action", "summary"]
    assert len(lines) == 2 and lines[1][3] == "connection.tested"
    assert lines[1][4] == "'=HYPERLINK(\"x\")"  # never read as a formula
    assert '"outcome": "ok"' in lines[1][7]
    full = ada.get("/orgs/audit.csv").get_data(as_text=True)
    assert "org.created" in full
    people.join("carl@example.com", "Springfield District", role="member")
    assert people.login("carl@example.com").get("/orgs/audit.csv").status_code == 403


def test_decryptions_of_one_piece_of_work_share_a_row(app, people, ada):
    springfield = people.org_id("Springfield District")
    for seconds in (30, 29):
        _event(app, springfield, "connection.secret_decrypted",
               "Client secret of connection “North” decrypted: flow preview", target_id=7,
               seconds_ago=seconds, reason="flow preview")
    _event(app, springfield, "connection.secret_decrypted",
           "Client secret of connection “North” decrypted: flow run", target_id=7,
           seconds_ago=10, reason="flow run")
    html = ada.get("/orgs/audit?action=connection.secret_decrypted").get_data(as_text=True)
    assert html.count('data-action="connection.secret_decrypted"') == 2
    assert 'data-repeats="2"' in html and "2 times" in html
    csv_text = ada.get("/orgs/audit.csv?action=connection.secret_decrypted").text
    assert csv_text.count("connection.secret_decrypted") == 3  # the record keeps every one
