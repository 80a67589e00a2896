"""Pre-flight: every sampled record checked, the errors that would stop an import listed."""

from __future__ import annotations

from oneroster.model import ENTITIES, Category, OneRosterError
from oneroster.preflight import run_preflight
from tests.connections.scripted_client import ScriptedClient, page, settings
from webapp.plugin_api import PreflightReport


def preflight(client, **kwargs):
    reports: list[dict] = []
    result = run_preflight(settings(), report=reports.append,
                           client_factory=lambda s: client, **kwargs)
    return result, reports


def test_clean_source_passes_with_totals():
    client = ScriptedClient(pages={"users": page("users", 40, total=600)})
    result, reports = preflight(client)

    assert result["ok"] and result["state"] == "success"
    assert result["errors"] == [] and result["warnings"] == []
    assert result["totals"]["users"] == 600
    assert reports[0]["state"] == "testing"
    labels = [s["label"] for s in result["steps"]]
    assert labels[:3] == ["Base URL", "Proxy", "Credentials"]


def test_only_the_chosen_collections_are_checked():
    client = ScriptedClient()
    result, _ = preflight(client, entities=["users", "orgs"])
    assert [s["id"] for s in result["steps"]][3:] == ["orgs", "users"]
    assert {c[1] for c in client.calls if c[0] == "page"} == {"orgs", "users"}
    assert set(result["totals"]) == {"orgs", "users"}


def test_missing_essential_field_in_any_sampled_record_stops_an_import():
    users = page("users", 10)
    broken = users.records[7].raw
    del broken["givenName"]
    client = ScriptedClient(pages={"users": users})
    result, _ = preflight(client)

    assert not result["ok"]
    assert len(result["errors"]) == 1
    assert "Users" in result["errors"][0] and "1 of 10" in result["errors"][0]
    assert "givenName" in result["errors"][0]


def test_missing_other_required_field_only_warns():
    client = ScriptedClient(pages={"courses": page("courses", 5, drop=("courseCode",))})
    result, _ = preflight(client)
    assert result["ok"]
    assert result["warnings"] and "courseCode" in result["warnings"][0]


def test_unreadable_collection_and_bad_credentials_are_listed():
    forbidden = OneRosterError(Category.FORBIDDEN, "Forbidden.", status=403,
                               missing_scope="roster.readonly")
    result, _ = preflight(ScriptedClient(pages={"enrollments": forbidden}))
    assert not result["ok"]
    assert result["errors"] == ["Enrollments: Access forbidden. Forbidden."]

    refused = OneRosterError(Category.AUTHENTICATION, "The token endpoint refused the client.",
                             status=401)
    result, _ = preflight(ScriptedClient(token=refused))
    assert result["errors"] == [
        "Credentials: Authentication Failed. The token endpoint refused the client."]
    assert all(result["totals"][e] is None for e in ENTITIES)


def test_empty_collection_warns():
    result, _ = preflight(ScriptedClient(pages={"classes": page("classes", 0)}))
    assert result["ok"] and any("Classes" in w for w in result["warnings"])


def test_plugin_contract_shape():
    result, _ = preflight(ScriptedClient())
    shaped = PreflightReport.from_json(result)
    assert shaped.ok and shaped.errors == ()
    assert shaped.totals["orgs"] == 3
    assert [s.id for s in shaped.checklist.steps][:3] == ["base_url", "proxy", "token"]
    assert shaped.to_json()["steps"] == result["steps"]


def test_sandbox_preflight_reports_the_district_totals(sandbox):
    result = run_preflight(sandbox.settings("demo"), budget=20)
    assert result["ok"], result["errors"]
    assert result["totals"] == {e: sandbox.app.district.counts()[e] for e in ENTITIES}


def test_sandbox_preflight_lists_what_stops_an_import(sandbox):
    result = run_preflight(sandbox.settings("no-enrollments"), budget=20)
    assert not result["ok"]
    assert len(result["errors"]) == 1 and result["errors"][0].startswith("Enrollments:")
