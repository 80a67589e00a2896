"""Audit: connection created, edited, secret replaced, deleted; never a secret."""

from __future__ import annotations

from tests.connections.conftest import SECRET, VALID
from webapp.extensions import db
from webapp.models import AuditEvent


def _events(app):
    with app.app_context():
        return [(e.action, e.summary, e.details, e.actor_id, e.organization_id)
                for e in db.session.scalars(db.select(AuditEvent).order_by(AuditEvent.id))]


def test_the_life_of_a_connection_is_audited_without_secrets(app, client, people, saved):
    # Same server, new path: the stored secret may follow without being typed again.
    client.post(f"/connections/{saved}", data={**VALID, "client_secret": "",
                                               "base_url": "https://sis.example.org/ims"})
    client.post(f"/connections/{saved}", data={**VALID, "client_secret": "replacement-secret",
                                               "base_url": "https://sis.example.org/ims"})
    client.post(f"/connections/{saved}/delete")

    events = _events(app)
    actions = [action for action, *_ in events]
    assert actions == ["connection.created", "connection.edited", "connection.secret_replaced",
                       "connection.deleted"]
    assert all(actor == people.admin_id and org == people.org_id
               for *_, actor, org in events)
    edited = events[1][2]
    assert edited["fields"] == ["base_url"]
    assert edited["changes"]["base_url"] == [VALID["base_url"], "https://sis.example.org/ims"]
    assert f"“{VALID['name']}”" in events[3][1]
    flat = repr(events)
    assert SECRET not in flat and "replacement-secret" not in flat
    assert "client_secret_encrypted" not in flat
