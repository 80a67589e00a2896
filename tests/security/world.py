"""A small world to attack: one district's admin, member and objects; another organization."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from tests.connections.conftest import VALID
from tests.fixtures.accounts import People
from webapp.extensions import db
from webapp.models import Connection, Flow, Invite, Job, Run, User

ORG = "Quahog Unified District"
OTHER_ORG = "Shelbyville District"


@dataclass
class World:
    """Quahog (admin Ada, member Max) with its objects; Olga of Shelbyville; a stranger."""

    app: Flask
    clients: dict[str, FlaskClient]
    ids: dict[str, Any] = field(default_factory=dict)

    def values(self) -> dict[str, Any]:
        """Return URL values for every route parameter, naming Quahog's objects."""
        return dict(self.ids)


def _graph() -> dict[str, Any]:
    options = {"entities": ["orgs", "courses", "classes", "users", "enrollments"],
               "sync": "full", "schools": [], "classes": 2, "users_per_class": 3,
               "teachers": 1}
    return {"nodes": [
        {"id": "source-1", "kind": "source", "plugin": "source-test-data", "label": "School",
         "config": options},
        {"id": "output", "kind": "output", "plugin": "output-oneroster-csv", "config": {}}]}


def build(app: Flask, *, base_url: str = "https://sis.example.org") -> World:
    """Make the world through the real routes where it is cheap, directly where it is not."""
    people = People(app)
    ada = people.signup("ada@example.com", ORG, name="Ada Admin")
    olga = people.signup("olga@example.com", OTHER_ORG, name="Olga Outsider")
    max_ = people.join("max@example.com", ORG, name="Max Member")
    world = World(app, {"outsider": app.test_client(), "other": olga, "member": max_,
                        "admin": ada})
    response = ada.post("/connections/", data={
        **VALID, "name": "Quahog SIS", "base_url": f"{base_url}/ims/oneroster/rostering/v1p2",
        "auth_url": f"{base_url}/oauth/token"})
    assert response.status_code == 303, response.get_data(as_text=True)
    ada.post("/orgs/members", data={"email": "newbie@example.com", "role": "member"})
    members = ada.get("/orgs/members").get_data(as_text=True)
    token = re.search(r"/invite/([A-Za-z0-9_-]+)", members).group(1)
    wizard = ada.post("/flows/wizard").headers["Location"]
    editor = ada.post("/flows/editor").headers["Location"]
    editor_id = int(re.search(r"/editor/(\d+)", editor).group(1))
    ada.post(f"/flows/editor/{editor_id}/sources", data={"plugin": "source-test-data"})
    with app.app_context():
        org_id = people.org_id(ORG)
        user = db.session.scalar(select(User).where(User.email == "ada@example.com"))
        flow = Flow(organization_id=org_id, name="Nightly", graph=_graph(),
                    created_by_id=user.id)
        db.session.add(flow)
        for job_id, kind in (("job-values-test", "connection.test"),
                             ("job-preflight", "connection.preflight")):
            db.session.add(Job(id=job_id, kind=kind, organization_id=org_id, params={}))
        db.session.commit()
        flow_id = flow.id
    assert ada.post(f"/runs/flows/{flow_id}/start").status_code == 303
    with app.app_context():
        world.ids.update(
            connection_id=db.session.scalar(select(Connection.id)),
            flow_id=flow_id,
            run_id=db.session.scalar(select(Run.id)),
            invite_id=db.session.scalar(select(Invite.id)),
            org_id=org_id,
            membership_id=people.membership_id("max@example.com", ORG),
            draft_id=int(re.search(r"/wizard/(\d+)", wizard).group(1)),
            editor_id=editor_id,
            node_id="source-1", step="source", token=token, filename="app.css",
            webhook_id=999_999,
        )
    world.ids["job_id"] = "job-values-test"
    return world
