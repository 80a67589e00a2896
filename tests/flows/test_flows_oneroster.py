"""The wizard with the real source-oneroster plugin, against the sandbox SIS on loopback."""

from __future__ import annotations

import re

import pytest

from oneroster.sandbox.server import serve_in_thread
from tests.flows.flowkit import draft_id
from webapp.extensions import db
from webapp.flows.services import list_schools
from webapp.models import Connection

USERS = 60


@pytest.fixture(scope="module")
def sandbox():
    with serve_in_thread(users=USERS) as running:
        yield running


def hx(client, verb: str, url: str, **kwargs):
    return getattr(client, verb)(url, headers={"HX-Request": "true"}, **kwargs)


def sandbox_connection(store, sandbox, name: str, secret: str = "sandbox-secret") -> int:
    return store.connection(name, client_id="demo", secret=secret, status="configured",
                            base_url=sandbox.base_url, auth_url=sandbox.token_url)


def test_wizard_with_a_saved_connection_to_the_sandbox(ada, store, sandbox):
    connection = sandbox_connection(store, sandbox, "Sandbox SIS")
    draft = draft_id(ada.post("/flows/wizard"))
    hx(ada, "post", f"/flows/wizard/{draft}/source", data={"plugin": "source-oneroster"})
    html = hx(ada, "post", f"/flows/wizard/{draft}/configure",
              data={"connection_id": str(connection)}).get_data(as_text=True)
    assert 'data-status="passed"' in html, html
    for step in ("base_url", "token", "orgs", "courses", "classes", "users", "enrollments"):
        assert f'data-step="{step}" data-state="ok"' in html

    options = hx(ada, "post", f"/flows/wizard/{draft}/configure",
                 data={"connection_id": str(connection), "next": "1"}).get_data(as_text=True)
    schools = re.findall(r'name="schools" value="([^"]+)"', options)
    assert schools, "the sandbox's schools are offered for the filter"

    counts = sandbox.app.district.counts()
    preview = hx(ada, "post", f"/flows/wizard/{draft}/options",
                 data={"entities": ["orgs", "courses", "classes", "users", "enrollments"],
                       "sync": "full"}).get_data(as_text=True)
    for entity in ("orgs", "users", "enrollments"):
        row = re.search(rf'data-entity="{entity}">\s*<th scope="row">[^<]*</th>\s*'
                        rf'<td class="nowrap">([^<]*)</td>', preview)
        assert row and row.group(1).replace(",", "") == str(counts[entity])

    hx(ada, "post", f"/flows/wizard/{draft}/preview")
    saved = ada.post(f"/flows/wizard/{draft}/save",
                     data={"output": "output-oneroster-csv", "name": "Sandbox nightly",
                           "run_now": "1"})
    assert saved.status_code == 303 and "/runs/" in saved.headers["Location"]
    [flow] = store.flows()
    assert flow.graph["nodes"][0]["config"]["connection_id"] == connection


def test_wrong_secret_blocks_the_wizard_with_the_reason(ada, store, sandbox):
    connection = sandbox_connection(store, sandbox, "Mistyped SIS", secret="not-the-secret")
    draft = draft_id(ada.post("/flows/wizard"))
    hx(ada, "post", f"/flows/wizard/{draft}/source", data={"plugin": "source-oneroster"})
    html = hx(ada, "post", f"/flows/wizard/{draft}/configure",
              data={"connection_id": str(connection)}).get_data(as_text=True)
    assert 'data-status="failed"' in html
    assert "Authentication Failed" in html
    assert "Verify Client ID and Secret are correct" in html
    assert 'disabled aria-disabled="true"' in html
    assert "not-the-secret" not in html
    blocked = hx(ada, "post", f"/flows/wizard/{draft}/configure",
                 data={"connection_id": str(connection), "next": "1"})
    assert "HX-Push-Url" not in blocked.headers


def test_create_new_connection_inside_the_wizard(ada, store, sandbox):
    draft = draft_id(ada.post("/flows/wizard"))
    html = hx(ada, "post", f"/flows/wizard/{draft}/source",
              data={"plugin": "source-oneroster"}).get_data(as_text=True)
    opener = re.search(r'hx-get="(/connections/new\?[^"]+)"', html).group(1).replace("&amp;", "&")
    form = hx(ada, "get", opener).get_data(as_text=True)
    assert 'name="selector" value="source-1-connection"' in form
    assert 'name="slot" value="source-1-connection-new"' in form
    created = hx(ada, "post", "/connections/", data={
        "embed": "1", "selector": "source-1-connection", "field": "connection_id",
        "slot": "source-1-connection-new", "name": "New sandbox", "provider": "custom",
        "base_url": sandbox.base_url, "auth_url": sandbox.token_url, "client_id": "demo",
        "client_secret": "sandbox-secret", "oneroster_version": "1.2",
        "auth_method": "oauth2_basic", "scopes": "", "proxy_country": ""})
    assert created.status_code == 201, created.get_data(as_text=True)
    assert created.headers["HX-Retarget"] == "#source-1-connection"
    assert "connection-created" in created.headers["HX-Trigger"]
    new_id = int(re.search(r'value="(\d+)"[^>]*selected', created.get_data(as_text=True))[1])
    # The wizard's form reacts to the event by storing the selection and running the check.
    html = hx(ada, "post", f"/flows/wizard/{draft}/configure",
              data={"connection_id": str(new_id)}).get_data(as_text=True)
    assert 'data-status="passed"' in html
    assert re.search(rf'<option[^>]* value="{new_id}"[^>]*\bselected', html)



def test_listing_schools_ignores_the_schools_already_chosen(app, ada, store, sandbox):
    connection = sandbox_connection(store, sandbox, "Sandbox SIS")
    node = {"id": "source-1", "kind": "source", "plugin": "source-oneroster",
            "config": {"connection_id": connection, "schools": []}}
    with app.test_request_context():
        organization_id = db.session.get(Connection, connection).organization_id
        every, _ = list_schools(node, organization_id)
        node["config"]["schools"] = [every[0][0]]
        again, _ = list_schools(node, organization_id)
    assert len(every) > 1
    assert again == every


def test_a_forbidden_collection_can_be_left_out_from_the_preflight(ada, store, sandbox):
    connection = store.connection("No enrollments", client_id="no-enrollments",
                                  secret="sandbox-secret", status="configured",
                                  base_url=sandbox.base_url, auth_url=sandbox.token_url)
    draft = draft_id(ada.post("/flows/wizard"))
    hx(ada, "post", f"/flows/wizard/{draft}/source", data={"plugin": "source-oneroster"})
    failed = hx(ada, "post", f"/flows/wizard/{draft}/configure",
                data={"connection_id": str(connection)}).get_data(as_text=True)
    assert 'data-status="failed"' in failed
    assert 'name="without" value="enrollments"' in failed
    assert "Continue without Enrollments" in failed

    passed = hx(ada, "post", f"/flows/wizard/{draft}/configure",
                data={"connection_id": str(connection), "without": "enrollments"}
                ).get_data(as_text=True)
    assert 'data-status="passed"' in passed, passed
    assert 'data-step="enrollments"' not in passed  # only the chosen collections are checked
    assert 'data-step="users" data-state="ok"' in passed
    options = hx(ada, "post", f"/flows/wizard/{draft}/configure",
                 data={"connection_id": str(connection), "next": "1"}).get_data(as_text=True)
    assert 'data-step="options"' in options
    ticked = re.findall(r'name="entities" value="(\w+)"\s+checked', options)
    assert ticked == ["orgs", "courses", "classes", "users"], ticked
