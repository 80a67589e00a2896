"""The wizard's steps and the editor's panels are GETs that only read: they derive what to
show from the draft and its pre-flights, and write nothing (no INSERT, UPDATE or DELETE, no
commit). What a person answers is stored by the POSTs."""

from __future__ import annotations

import re

from tests.fixtures.writes import writes_recorded
from tests.flows.flowkit import draft_id

HX = {"HX-Request": "true"}


def test_every_wizard_step_shown_by_get_writes_nothing(app, ada):
    draft = draft_id(ada.post("/flows/wizard"))
    ada.post(f"/flows/wizard/{draft}/source", data={"plugin": "source-test-data"}, headers=HX)
    ada.post(f"/flows/wizard/{draft}/configure", headers=HX,
             data={"classes": "2", "users_per_class": "3", "teachers": "1", "next": "1"})
    with writes_recorded(app) as writes:
        pages = [ada.get(f"/flows/wizard/{draft}/{step}", headers=headers)
                 for step in ("source", "configure", "options")
                 for headers in (HX, {})]
        preflight = ada.get(f"/flows/drafts/{draft}/preflight/source-1", headers=HX)
        resumed = ada.get(f"/flows/wizard/{draft}")
    assert [p.status_code for p in pages] == [200] * 6
    assert 'name="schools"' in pages[-1].get_data(as_text=True)  # derived from the pre-flight
    assert preflight.status_code == 286 and resumed.status_code == 302
    assert writes == []


def test_opening_editor_panels_writes_nothing(app, ada):
    draft = draft_id(ada.post("/flows/editor"))
    added = ada.post(f"/flows/editor/{draft}/sources", data={"plugin": "source-test-data"},
                     headers=HX)
    node_id = re.search(r'id="panel-([^"]+)"', added.get_data(as_text=True))[1]
    ada.post(f"/flows/editor/{draft}/validate", headers=HX)
    with writes_recorded(app) as writes:
        opened = ada.get(f"/flows/editor/{draft}/nodes/{node_id}", headers=HX)
        whole = ada.get(f"/flows/editor/{draft}/nodes/{node_id}")
        closed = ada.get(f"/flows/editor/{draft}", headers=HX)
        graph = ada.get(f"/flows/editor/{draft}/graph?selected={node_id}", headers=HX)
    assert f'id="panel-{node_id}"' in opened.get_data(as_text=True)
    assert f'id="panel-{node_id}"' in whole.get_data(as_text=True)
    assert f'id="panel-{node_id}"' not in closed.get_data(as_text=True)
    assert 'aria-current="true"' in graph.get_data(as_text=True)  # the open node stays marked
    assert writes == []
