"""Cancelling a run that is going, with jobs on the in-process thread pool."""

from __future__ import annotations

import time

import pytest

from tests.runs.conftest import graph, source
from tests.runs.test_engine import ROSTER
from tests.runs.test_run_test_data import run_id_of

DEADLINE_S = 10.0


@pytest.fixture
def app_config(app_config):
    app_config["JOBS"] = "thread"
    return app_config


def wait_for(condition, what: str):
    end = time.monotonic() + DEADLINE_S
    while time.monotonic() < end:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def test_cancel_stops_the_run_and_keeps_what_was_read(ada, flows, scripted):
    flow_id = flows.create(graph(source(plugin="source-scripted", records=ROSTER, block=True)))
    run_id = run_id_of(ada.post(f"/runs/flows/{flow_id}/start"))

    def polling():
        response = ada.get(f"/runs/{run_id}/progress", headers={"HX-Request": "true"})
        html = response.get_data(as_text=True)
        return response.status_code == 200 and 'hx-trigger="every 1s"' in html \
            and "Cancel run" in html and scripted.reads

    wait_for(polling, "the run to start reading")
    response = ada.post(f"/runs/{run_id}/cancel", headers={"HX-Request": "true"})
    assert response.status_code == 200

    run = wait_for(lambda: (r := flows.run(run_id)).status == "cancelled" and r, "the cancel")
    assert {c.state for c in run.collections} == {"cancelled"}
    assert run.counts["orgs"] == 1  # the record read before the cancel is kept
    assert run.output is None
    final = ada.get(f"/runs/{run_id}/progress", headers={"HX-Request": "true"})
    assert final.status_code == 286
    html = final.get_data(as_text=True)
    assert "Retry failed collections" in html
    assert "was cancelled" not in html  # each row says Cancelled once, not twice over



class SlowOutput:
    """An output plugin that takes a moment, so the run is Completed before its bundle."""

    id = "output-slow"
    name = "Slow bundle"
    extension = "zip"
    media_type = "application/zip"

    def __init__(self, config, *, organization_id=None) -> None:
        pass

    def filename(self, data) -> str:
        return "slow.zip"

    def write(self, data, path):
        from webapp.plugin_api import OutputResult

        time.sleep(0.8)
        path.write_bytes(b"bundle")
        return OutputResult({})


def test_download_asked_for_while_the_bundle_is_written_waits_for_it(app, ada, flows):
    app.extensions["sdm.plugins"].outputs[SlowOutput.id] = SlowOutput
    flow_graph = graph(source(classes=1, users_per_class=1, teachers=1))
    flow_graph["nodes"][-1]["plugin"] = SlowOutput.id
    run_id = run_id_of(ada.post(f"/runs/flows/{flows.create(flow_graph)}/start"))
    wait_for(lambda: flows.run(run_id).status == "completed", "the run to complete")
    page = ada.get(f"/runs/{run_id}/progress", headers={"HX-Request": "true"})
    if flows.run(run_id).output["state"] != "ready":  # still writing: keep polling
        assert page.status_code == 200
    response = ada.get(f"/runs/{run_id}/download")
    assert response.status_code == 200 and response.data == b"bundle"
    final = ada.get(f"/runs/{run_id}/progress", headers={"HX-Request": "true"})
    assert final.status_code == 286 and 'data-output="ready"' in final.get_data(as_text=True)
