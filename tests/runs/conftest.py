"""Fixtures of the runs tests: an organization with a signed-in admin, flows made directly."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from webapp.extensions import db
from webapp.models import Flow, Run, User


@pytest.fixture
def app_config(app_config, tmp_path):
    app_config["ARTIFACTS_DIR"] = str(tmp_path / "artifacts")
    return app_config


@pytest.fixture
def ada(people):
    """A signed-in admin of Springfield District."""
    return people.signup("ada@example.com", "Springfield District", name="Ada Admin")


def source(node_id: str = "source-1", plugin: str = "source-test-data", label: str = "",
           **config: Any) -> dict[str, Any]:
    options = {"entities": ["orgs", "courses", "classes", "users", "enrollments"],
               "sync": "full", "schools": []}
    return {"id": node_id, "kind": "source", "plugin": plugin,
            "label": label or node_id, "config": {**options, **config}}


def graph(*sources: dict[str, Any], precedence: list[str] | None = None) -> dict[str, Any]:
    nodes = list(sources) or [source()]
    if len(nodes) > 1 or precedence:
        nodes.append({"id": "merge", "kind": "merge",
                      "config": {"precedence": precedence or [n["id"] for n in nodes]}})
    nodes.append({"id": "output", "kind": "output", "plugin": "output-oneroster-csv",
                  "config": {}})
    return {"nodes": nodes}


class Flows:
    def __init__(self, app, people) -> None:
        self.app = app
        self.people = people

    def create(self, flow_graph: dict[str, Any] | None = None, *, name: str = "Nightly",
               organization: str = "Springfield District",
               email: str = "ada@example.com") -> int:
        with self.app.app_context():
            user = db.session.scalar(select(User).where(User.email == email))
            flow = Flow(organization_id=self.people.org_id(organization), name=name,
                        graph=flow_graph or graph(), created_by_id=user.id if user else None)
            db.session.add(flow)
            db.session.commit()
            return flow.id

    def run(self, run_id: int) -> Run:
        """Return a run, detached, with its collections loaded."""
        with self.app.app_context():
            run = db.session.get(Run, run_id)
            _ = list(run.collections)
            db.session.expunge_all()
            return run


@pytest.fixture
def flows(app, people) -> Flows:
    return Flows(app, people)
