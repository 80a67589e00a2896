"""Helpers of the flow tests: graphs, a connection-using source, draft ids from URLs."""

from __future__ import annotations

import re
from typing import Any

from webapp.plugin_api import Checklist, Field, PreflightReport, Sample, SourcePlugin


class ConnectedSource(SourcePlugin):
    """A source that reads through a saved connection; client ID "bad" fails its pre-flight."""

    id = "source-connected"
    name = "Connected SIS"
    description = "Reads through a saved connection."
    uses_connection = True
    fields = (Field("connection_id", "Connection", "connection", required=True),)

    @classmethod
    def check(cls, config, report, cancel) -> Checklist:
        return Checklist("success")

    @classmethod
    def preflight(cls, config, report, cancel) -> PreflightReport:
        if config.connection.client_id == "bad":
            return PreflightReport(Checklist("error"), errors=(
                "Credentials: Authentication Failed. The token endpoint refused the client.",))
        return PreflightReport(Checklist("success"),
                               totals={e: 3 for e in cls.chosen(config.options)})

    def sample(self, entities, limit=5):
        return {e: Sample(e, (), total=0) for e in entities}

    def read(self, entities, *, sink, progress=None, cancel=None, since=None):
        raise AssertionError("the flow tests never read")



def source(node_id: str = "source-1", plugin: str = "source-test-data", **config: Any) -> dict:
    options = {"entities": ["orgs", "courses", "classes", "users", "enrollments"],
               "sync": "full", "schools": []}
    return {"id": node_id, "kind": "source", "plugin": plugin, "label": node_id,
            "config": {**options, **config}}


def graph(*sources: dict, merge: bool | None = None, output: bool = True) -> dict:
    nodes = list(sources)
    if merge or (merge is None and len(nodes) > 1):
        nodes.append({"id": "merge", "kind": "merge",
                      "config": {"precedence": [n["id"] for n in sources]}})
    if output:
        nodes.append({"id": "output", "kind": "output", "plugin": "output-oneroster-csv",
                      "config": {}})
    return {"nodes": nodes}


def draft_id(response) -> int:
    """Return the draft id from a wizard or editor URL in a redirect or HX-Redirect."""
    url = response.headers.get("HX-Redirect") or response.headers["Location"]
    return int(re.search(r"/(?:wizard|editor)/(\d+)", url).group(1))
