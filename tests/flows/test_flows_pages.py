"""The flow list and a flow's page: sources, last run, connection missing, delete, isolation."""

from __future__ import annotations

import pytest

from tests.flows.flowkit import graph, source


def test_list_shows_sources_last_run_and_the_two_ways_to_start(ada, store):
    connection = store.connection("Springfield SIS")
    store.flow(graph(source(plugin="source-oneroster", connection_id=connection)),
               name="Nightly")
    html = ada.get("/flows/").get_data(as_text=True)
    assert "New flow (wizard)" in html and "New flow (advanced editor)" in html
    assert "Nightly" in html and "Springfield SIS" in html
    assert "Never run" in html


def test_list_shows_the_last_run_status(ada, store):
    flow_id = store.flow(graph(source(classes=1, users_per_class=1, teachers=1)), name="Tiny")
    started = ada.post(f"/runs/flows/{flow_id}/start")
    assert started.status_code == 303
    html = ada.get("/flows/").get_data(as_text=True)
    assert 'data-status="completed"' in html


def test_deleted_connection_shows_connection_missing_everywhere(ada, store):
    connection = store.connection("Retired SIS")
    flow_id = store.flow(graph(source(plugin="source-oneroster", connection_id=connection)),
                         name="Nightly", mode="advanced")
    store.delete_connection(connection)

    listing = ada.get("/flows/").get_data(as_text=True)
    assert "Connection missing" in listing

    page = ada.get(f"/flows/{flow_id}").get_data(as_text=True)
    assert "Connection missing" in page
    assert "was deleted" in page
    assert "Run now</button>" in page and "disabled" in page

    draft = ada.post(f"/flows/{flow_id}/edit", data={"mode": "advanced"})
    editor = ada.get(draft.headers["Location"]).get_data(as_text=True)
    assert "⚠ Connection missing" in editor
    panel_url = draft.headers["Location"] + "/nodes/source-1"
    panel = ada.get(panel_url).get_data(as_text=True)
    assert 'data-testid="connection-missing"' in panel


def test_flows_using_connection(app, ada, store):
    from webapp.extensions import db
    from webapp.flows.services import flows_using_connection
    from webapp.models import Connection

    used = store.connection("Used SIS")
    unused = store.connection("Unused SIS")
    store.flow(graph(source(plugin="source-oneroster", connection_id=used)), name="A")
    store.flow(graph(source(plugin="source-oneroster", connection_id=used),
                     source("source-2", plugin="source-oneroster", connection_id=unused)),
               name="B")
    store.flow(graph(source()), name="C")
    with app.app_context():
        names = [f.name for f in flows_using_connection(db.session.get(Connection, used))]
        assert names == ["A", "B"]
        names = [f.name for f in flows_using_connection(db.session.get(Connection, unused))]
        assert names == ["B"]


def test_connection_delete_confirmation_lists_the_flows(ada, store):
    connection = store.connection("Used SIS")
    store.flow(graph(source(plugin="source-oneroster", connection_id=connection)),
               name="Nightly roster")
    html = ada.get(f"/connections/{connection}/delete").get_data(as_text=True)
    assert "Nightly roster" in html
    assert "connection missing" in html.lower()


def test_member_deletes_own_flow_but_not_others(ada, people, store):
    theirs = store.flow(graph(source()), name="Ada's")
    max_ = people.join("max@example.com", "Springfield District", role="member")
    mine = store.flow(graph(source()), name="Max's", email="max@example.com")
    assert "Delete flow" not in max_.get(f"/flows/{theirs}").get_data(as_text=True)
    assert max_.post(f"/flows/{theirs}/delete").status_code == 403
    assert max_.post(f"/flows/{mine}/delete").status_code == 303
    assert [f.name for f in store.flows()] == ["Ada's"]
    assert ada.post(f"/flows/{theirs}/delete").status_code == 303
    assert store.flows() == []


@pytest.fixture
def other(people):
    """A signed-in admin of another organization."""
    return people.signup("olga@example.com", "Shelbyville District", name="Olga")


def test_other_organizations_get_404_on_every_flow_route(ada, other, store):
    flow_id = store.flow(graph(source()), name="Private")
    wizard = ada.post("/flows/wizard").headers["Location"]
    draft = int(wizard.split("/")[3])
    editor = ada.post("/flows/editor").headers["Location"]
    editor_draft = int(editor.split("/")[3])
    for verb, url in (
        ("get", f"/flows/{flow_id}"),
        ("post", f"/flows/{flow_id}/edit"),
        ("post", f"/flows/{flow_id}/delete"),
        ("get", f"/flows/wizard/{draft}"),
        ("get", f"/flows/wizard/{draft}/source"),
        ("post", f"/flows/wizard/{draft}/source"),
        ("post", f"/flows/wizard/{draft}/configure"),
        ("post", f"/flows/wizard/{draft}/options"),
        ("post", f"/flows/wizard/{draft}/preview"),
        ("post", f"/flows/wizard/{draft}/save"),
        ("post", f"/flows/drafts/{draft}/discard"),
        ("get", f"/flows/drafts/{draft}/preflight/source-1"),
        ("get", f"/flows/editor/{editor_draft}"),
        ("get", f"/flows/editor/{editor_draft}/graph"),
        ("get", f"/flows/editor/{editor_draft}/nodes/output"),
        ("post", f"/flows/editor/{editor_draft}/nodes/output"),
        ("post", f"/flows/editor/{editor_draft}/nodes/output/delete"),
        ("post", f"/flows/editor/{editor_draft}/sources"),
        ("post", f"/flows/editor/{editor_draft}/merge"),
        ("post", f"/flows/editor/{editor_draft}/precedence"),
        ("post", f"/flows/editor/{editor_draft}/validate"),
        ("post", f"/flows/editor/{editor_draft}/save"),
    ):
        response = getattr(other, verb)(url)
        assert response.status_code == 404, (verb, url, response.status_code)
        assert b"Private" not in response.data
    assert "Private" not in other.get("/flows/").get_data(as_text=True)


def test_a_draft_belongs_to_its_author_alone(ada, people):
    wizard = ada.post("/flows/wizard").headers["Location"]
    colleague = people.join("max@example.com", "Springfield District", role="admin")
    assert colleague.get(wizard).status_code == 404


def test_signed_out_people_are_sent_to_sign_in(client):
    response = client.get("/flows/")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_deleting_a_flow_drops_the_drafts_editing_it(ada, store):
    flow_id = store.flow(graph(source()), name="Short-lived", mode="advanced")
    editor = ada.post(f"/flows/{flow_id}/edit", data={"mode": "advanced"}).headers["Location"]
    assert ada.get(editor).status_code == 200
    assert ada.post(f"/flows/{flow_id}/delete").status_code == 303
    assert ada.get(editor).status_code == 404
    assert "Short-lived" not in ada.get("/flows/").get_data(as_text=True)


def test_the_flow_page_names_collections_as_every_other_page(ada, store):
    flow_id = store.flow(graph(source(classes=1, users_per_class=1, teachers=1)), name="Tiny")
    page = ada.get(f"/flows/{flow_id}").get_data(as_text=True)
    assert "Collections: Organizations, Courses, Classes, Users, Enrollments" in page
