"""The advanced editor: a server-side graph edited panel by panel, validated by hand."""

from __future__ import annotations

import re

from tests.flows.flowkit import draft_id


def opened_panel(html: str) -> str:
    """Return the id of the node whose panel the editor fragment opened."""
    return re.search(r'id="panel-([^"]+)"', html)[1]


def hx(client, verb: str, url: str, **kwargs):
    return getattr(client, verb)(url, headers={"HX-Request": "true"}, **kwargs)


def open_editor(client) -> int:
    response = client.post("/flows/editor")
    assert response.status_code == 303
    return draft_id(response)


def nodes(store, draft: int) -> list[dict]:
    return store.draft(draft).data["graph"]["nodes"]


def test_two_sources_merged_with_precedence(ada, store, connected):
    north = store.connection("North SIS")
    south = store.connection("South SIS")
    draft = open_editor(ada)
    page = ada.get(f"/flows/editor/{draft}").get_data(as_text=True)
    assert "<html" in page and 'data-node="output"' in page
    assert "<li>Advanced editor</li>" in page and "Click a node to configure it" in page

    for connection_id, label in ((north, "North"), (south, "South")):
        added = hx(ada, "post", f"/flows/editor/{draft}/sources",
                   data={"plugin": "source-connected"})
        html = added.get_data(as_text=True)
        node_id = opened_panel(html)
        assert 'class="connection-selector"' in html  # the wizard's selector, in the panel
        assert f'id="panel-{node_id}"' in html
        hx(ada, "post", f"/flows/editor/{draft}/nodes/{node_id}",
           data={"label": label, "connection_id": str(connection_id),
                 "entities": ["orgs", "users"], "sync": "full"})

    # Two sources and no merge: explained, not saved.
    refused = hx(ada, "post", f"/flows/editor/{draft}/save", data={"name": "District"})
    html = refused.get_data(as_text=True)
    assert refused.status_code == 422
    assert "need a merge node" in html
    assert store.flows() == []

    merged = hx(ada, "post", f"/flows/editor/{draft}/merge").get_data(as_text=True)
    assert 'data-testid="precedence"' in merged
    assert merged.index('data-node="source-1"') < merged.index('data-node="source-2"')
    hx(ada, "post", f"/flows/editor/{draft}/precedence",
       data={"node": "source-2", "direction": "up"})
    merge = next(n for n in nodes(store, draft) if n["kind"] == "merge")
    assert merge["config"]["precedence"] == ["source-2", "source-1"]

    picture = ada.get(f"/flows/editor/{draft}").get_data(as_text=True)
    assert 'data-edge="source-1->merge"' in picture
    assert 'data-edge="source-2->merge"' in picture
    assert 'data-edge="merge->output"' in picture

    saved = hx(ada, "post", f"/flows/editor/{draft}/save", data={"name": "District"})
    assert saved.status_code == 204
    [flow] = store.flows()
    assert flow.mode == "advanced"
    kinds = [n["kind"] for n in flow.graph["nodes"]]
    assert kinds == ["source", "source", "merge", "output"]
    labels = {n["id"]: (n["label"], n["config"]["connection_id"]) for n in flow.graph["nodes"]
              if n["kind"] == "source"}
    assert labels == {"source-1": ("North", north), "source-2": ("South", south)}
    page = ada.get(f"/flows/{flow.id}").get_data(as_text=True)
    assert "North SIS" in page and "South SIS" in page
    assert page.index("South") < page.index("North", page.index("first wins"))


def test_clicking_a_node_loads_its_panel_and_pushes_the_url(ada, store):
    draft = open_editor(ada)
    hx(ada, "post", f"/flows/editor/{draft}/sources", data={"plugin": "source-test-data"})
    page = ada.get(f"/flows/editor/{draft}").get_data(as_text=True)
    assert f'hx-get="/flows/editor/{draft}/nodes/source-1"' in page
    assert 'hx-push-url="true"' in page
    panel = hx(ada, "get", f"/flows/editor/{draft}/nodes/source-1").get_data(as_text=True)
    assert "<html" not in panel and "Number of classes" in panel
    assert 'name="entities"' in panel  # the same options fragment as the wizard
    direct = ada.get(f"/flows/editor/{draft}/nodes/source-1").get_data(as_text=True)
    assert "<html" in direct and "Number of classes" in direct
    assert hx(ada, "get", f"/flows/editor/{draft}/nodes/source-9").status_code == 404


def test_validate_explains_every_invalid_graph(ada, store, connected):
    gone = store.connection("Gone SIS")
    draft = open_editor(ada)
    hx(ada, "post", f"/flows/editor/{draft}/sources", data={"plugin": "source-connected"})
    hx(ada, "post", f"/flows/editor/{draft}/sources", data={"plugin": "source-connected"})
    hx(ada, "post", f"/flows/editor/{draft}/nodes/source-2",
       data={"connection_id": str(gone), "entities": ["orgs"], "sync": "full"})
    store.delete_connection(gone)
    hx(ada, "post", f"/flows/editor/{draft}/nodes/output/delete")

    html = hx(ada, "post", f"/flows/editor/{draft}/validate").get_data(as_text=True)
    assert 'data-testid="graph-problems"' in html
    assert "Add an output" in html
    assert "need a merge node" in html
    assert "Choose a connection for this source." in html
    assert "Connection missing" in html
    assert 'class="graph-node graph-source has-problems' in html

    refused = hx(ada, "post", f"/flows/editor/{draft}/save", data={"name": "Broken"})
    assert refused.status_code == 422 and store.flows() == []


def test_validate_runs_the_preflight_of_every_source(ada, store, connected):
    good = store.connection("Good SIS", client_id="good")
    bad = store.connection("Bad SIS", client_id="bad")
    draft = open_editor(ada)
    for connection_id in (good, bad):
        added = hx(ada, "post", f"/flows/editor/{draft}/sources",
                   data={"plugin": "source-connected"})
        node_id = opened_panel(added.get_data(as_text=True))
        hx(ada, "post", f"/flows/editor/{draft}/nodes/{node_id}",
           data={"connection_id": str(connection_id), "entities": ["orgs"], "sync": "full"})
    # The editor never runs a pre-flight on its own.
    assert not store.draft(draft).data.get("preflight")
    html = hx(ada, "post", f"/flows/editor/{draft}/validate").get_data(as_text=True)
    assert 'preflight-passed" data-node="source-1"' in html
    assert 'preflight-failed" data-node="source-2"' in html
    panel = hx(ada, "get", f"/flows/editor/{draft}/nodes/source-2").get_data(as_text=True)
    assert "Authentication Failed" in panel


def test_removing_a_source_updates_the_merge(ada, store):
    draft = open_editor(ada)
    for _ in range(3):
        hx(ada, "post", f"/flows/editor/{draft}/sources", data={"plugin": "source-test-data"})
    hx(ada, "post", f"/flows/editor/{draft}/merge")
    hx(ada, "post", f"/flows/editor/{draft}/nodes/source-2/delete")
    merge = next(n for n in nodes(store, draft) if n["kind"] == "merge")
    assert merge["config"]["precedence"] == ["source-1", "source-3"]


def test_editing_a_saved_flow_keeps_its_id(ada, store):
    from tests.flows.flowkit import graph, source

    flow_id = store.flow(graph(source()), name="Nightly", mode="advanced")
    opened = ada.post(f"/flows/{flow_id}/edit", data={"mode": "advanced"})
    draft = draft_id(opened)
    hx(ada, "post", f"/flows/editor/{draft}/nodes/source-1",
       data={"label": "Renamed", "classes": "3", "users_per_class": "2", "teachers": "1",
             "entities": ["orgs"], "sync": "delta"})
    hx(ada, "post", f"/flows/editor/{draft}/save", data={"name": "Nightly"})
    [flow] = store.flows()
    assert flow.id == flow_id
    assert flow.graph["nodes"][0]["label"] == "Renamed"
    assert flow.graph["nodes"][0]["config"]["sync"] == "delta"


def test_sources_nobody_named_are_named_by_their_connection(ada, store, connected):
    north = store.connection("North SIS")
    south = store.connection("South SIS")
    draft = open_editor(ada)
    for connection_id in (north, south):
        added = hx(ada, "post", f"/flows/editor/{draft}/sources",
                   data={"plugin": "source-connected"})
        node_id = opened_panel(added.get_data(as_text=True))
        default = next(n for n in nodes(store, draft) if n["id"] == node_id)["label"]
        hx(ada, "post", f"/flows/editor/{draft}/nodes/{node_id}",
           data={"label": default, "connection_id": str(connection_id)})
    assert [n["label"] for n in nodes(store, draft) if n["kind"] == "source"] \
        == ["North SIS", "South SIS"]
    # Choosing another connection renames a label that followed the first one ...
    hx(ada, "post", f"/flows/editor/{draft}/nodes/source-1",
       data={"label": "North SIS", "connection_id": str(south)})
    # ... but never a label somebody typed.
    hx(ada, "post", f"/flows/editor/{draft}/nodes/source-2",
       data={"label": "Our district", "connection_id": str(north)})
    assert [n["label"] for n in nodes(store, draft) if n["kind"] == "source"] \
        == ["South SIS", "Our district"]
