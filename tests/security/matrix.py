"""Requests for every rule of the URL map, and what their answers mean."""

from __future__ import annotations

from typing import Any

from flask import Flask
from werkzeug.routing import Rule

ROLES = ("outsider", "other", "member", "admin")
# Parameters some rules need other than the world's defaults.
OVERRIDES: dict[str, dict[str, Any]] = {
    "flows.wizard_step": {"step": "source"},
    **{f"flows.{name}": {"draft_id": "editor_id"} for name in (
        "editor", "editor_graph", "editor_node", "editor_add_merge", "editor_update_node",
        "editor_remove_node", "editor_move", "editor_save", "editor_add_source",
        "editor_validate", "preflight_status")},
}


def rules(app: Flask) -> list[Rule]:
    """Return every rule of the URL map, in a stable order."""
    return sorted(app.url_map.iter_rules(), key=lambda r: (r.rule, r.endpoint))


def method_of(rule: Rule) -> str:
    """Return the one verb a rule answers (every SDM view has one)."""
    methods = sorted(rule.methods - {"HEAD", "OPTIONS"})
    assert len(methods) == 1, f"{rule.endpoint} answers {methods}"
    return methods[0]


def url_of(app: Flask, rule: Rule, values: dict[str, Any]) -> str:
    """Return a URL for the rule, filled with the world's objects."""
    wanted = dict(values)
    for name, value in OVERRIDES.get(rule.endpoint, {}).items():
        wanted[name] = values.get(value, value) if isinstance(value, str) else value
    arguments = {name: wanted[name] for name in rule.arguments}
    with app.test_request_context():
        from flask import url_for

        return url_for(rule.endpoint, **arguments)


def outcome(response) -> str:
    """Name an answer: login (sent to sign in), 403, 404, or ok (the view did its work)."""
    location = response.headers.get("Location", "") or response.headers.get("HX-Redirect", "")
    if response.status_code in (302, 303) and "/login" in location:
        return "login"
    if response.status_code in (403, 404):
        return str(response.status_code)
    assert response.status_code < 500, response.status_code
    return "ok"
