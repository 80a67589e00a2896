"""Fixtures of the runs tests: an organization with a signed-in admin, flows made directly."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any, ClassVar

import orjson
import pytest
from sqlalchemy import select

from webapp import crypto
from webapp.extensions import db
from webapp.models import Connection, Flow, Run, User
from webapp.models.common import utcnow
from webapp.plugin_api import (
    SOURCE_OPTIONS,
    Checklist,
    EntityResult,
    ErrorCategory,
    FetchResult,
    Field,
    PreflightReport,
    Progress,
    Record,
    Sample,
    SourceError,
    SourcePlugin,
)


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


class ReadOnly(Mapping):
    """A record's data as a read-only mapping that is not a dict."""

    def __init__(self, fields: dict) -> None:
        self._fields = fields

    def __getitem__(self, key: str) -> Any:
        return self._fields[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._fields)

    def __len__(self) -> int:
        return len(self._fields)


class HeldJson(ReadOnly):
    """A record's data that holds its JSON already, as the plugin contract allows."""

    def __init__(self, fields: dict) -> None:
        super().__init__(fields)
        self.json = orjson.dumps(fields, option=orjson.OPT_SORT_KEYS)  # not as orjson would


class PrettyJson(ReadOnly):
    """A record's data that holds its JSON already, laid out on lines with tabs."""

    def __init__(self, fields: dict) -> None:
        super().__init__(fields)
        self.json = pretty(fields)


def pretty(fields: dict) -> bytes:
    """Return JSON as a server may write it: keys sorted, values on lines of their own."""
    return json.dumps(fields, indent="\t", sort_keys=True,
                      ensure_ascii=False).replace("\n", "\r\n").encode()


class ScriptedSource(SourcePlugin):
    """A source whose records and failures a test writes into its configuration.

    config: {"records": {entity: [data, ...]}, "fail": {entity: category},
             "fail_times": n (how many reads fail before the failures clear),
             "block": true (hold the read until cancelled), "explode": true (raise)}
    """

    id = "source-scripted"
    name = "Scripted"
    entities = ("orgs", "academicSessions", "courses", "classes", "users", "enrollments")
    options = (Field("entities", "Collections", "multichoice", required=True,
                     choices=tuple((e, e) for e in entities)),
               *(f for f in SOURCE_OPTIONS if f.name != "entities"))
    reads: ClassVar[list[tuple[str, ...]]] = []

    @classmethod
    def check(cls, config, report, cancel) -> Checklist:
        return Checklist("success")

    @classmethod
    def preflight(cls, config, report, cancel) -> PreflightReport:
        return PreflightReport(Checklist("success"))

    def sample(self, entities, limit=5):
        return {e: Sample(e, tuple(self._records(e)[:limit])) for e in entities}

    def _records(self, entity: str) -> list[Record]:
        rows = (self.config.get("records") or {}).get(entity, [])
        held = {"json": HeldJson, "pretty": PrettyJson,
                "mapping": ReadOnly}.get(self.config.get("held"), dict)
        return [Record(entity, d["sourcedId"], d.get("status", "active"),
                       d.get("dateLastModified"), held(d)) for d in rows]

    def read(self, entities, *, sink, progress=None, cancel=None, since=None):
        ScriptedSource.reads.append(tuple(entities))
        if self.config.get("explode"):
            raise RuntimeError("a bug in the plugin")
        failing = len(ScriptedSource.reads) <= self.config.get("fail_times", 10**6)
        results = {}
        for entity in entities:
            records = self._records(entity)
            if self.config.get("block"):
                sink(entity, records[:1])
                if progress:
                    progress(Progress(entity, "running", fetched=1, total=len(records),
                                      pages=1))
                cancel.wait(10)
                error = SourceError(ErrorCategory.CANCELLED, "Cancelled.", entity=entity)
                results[entity] = EntityResult(entity, False, 1, 1, 0, 0.1, None, error)
                continue
            category = (self.config.get("fail") or {}).get(entity)
            if category and failing:
                if records:
                    sink(entity, records[: len(records) // 2])
                error = SourceError(ErrorCategory(category), f"{entity} refused",
                                    entity=entity, status=403,
                                    missing_scope="roster.readonly")
                results[entity] = EntityResult(entity, False, 0, 0, 0, 0.01, None, error)
                continue
            if records:
                sink(entity, records)
            results[entity] = EntityResult(entity, True, len(records), 1, 0, 0.01,
                                           len(records))
        return FetchResult(results)


@pytest.fixture
def scripted(app):
    """Install the scripted source in the app's registry."""
    ScriptedSource.reads = []
    app.extensions["sdm.plugins"].sources[ScriptedSource.id] = ScriptedSource
    return ScriptedSource


def org(sourced_id: str, kind: str = "school", parent: str | None = None, **extra) -> dict:
    data = {"sourcedId": sourced_id, "status": "active", "name": sourced_id, "type": kind,
            "identifier": sourced_id}
    if parent:
        data["parent"] = {"sourcedId": parent, "type": "org"}
    return {**data, **extra}


def ref(sourced_id: str, kind: str) -> dict:
    return {"href": f"/{kind}s/{sourced_id}", "sourcedId": sourced_id, "type": kind}


@pytest.fixture
def connect(app, ada, people, sandbox):
    """Save a connection to the sandbox with a fault profile (its Client ID); return its id."""

    def make(profile: str = "demo") -> int:
        with app.app_context():
            user = db.session.scalar(select(User).where(User.email == "ada@example.com"))
            connection = Connection(
                organization_id=people.org_id("Springfield District"), name=f"Sandbox {profile}",
                provider="custom", base_url=sandbox.base_url, auth_url=sandbox.token_url,
                client_id=profile, client_secret_encrypted=crypto.encrypt(sandbox.secret),
                secret_set_at=utcnow(), created_by_id=user.id)
            db.session.add(connection)
            db.session.commit()
            return connection.id

    return make
