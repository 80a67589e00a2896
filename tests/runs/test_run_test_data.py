"""A run of a flow reading the test-data source: stored records, progress, download."""

from __future__ import annotations

import io
import re
import zipfile

from sdm_plugins.source_test_data.school import SampleSchool
from tests.runs.conftest import graph, source


def run_id_of(response) -> int:
    return int(re.search(r"/runs/(\d+)$", response.headers["Location"]).group(1))


def test_run_now_stores_every_record_and_completes(ada, flows):
    flow_id = flows.create(graph(source(classes=4, users_per_class=6, teachers=2)))
    response = ada.post(f"/runs/flows/{flow_id}/start")
    assert response.status_code == 303
    run = flows.run(run_id_of(response))
    assert run.status == "completed", run.error
    assert run.counts == SampleSchool(4, 6, 2).totals()
    assert all(c.state == "completed" for c in run.collections)

    page = ada.get(f"/runs/{run.id}")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "Completed" in html and "Download" in html and 'hx-trigger' not in html


def test_progress_fragment_of_an_ended_run_stops_polling(ada, flows):
    flow_id = flows.create()
    run_id = run_id_of(ada.post(f"/runs/flows/{flow_id}/start"))
    response = ada.get(f"/runs/{run_id}/progress", headers={"HX-Request": "true"})
    assert response.status_code == 286
    assert "hx-trigger" not in response.get_data(as_text=True)


def test_download_is_the_csv_bundle(ada, flows):
    flow_id = flows.create(graph(source(classes=3, users_per_class=4, teachers=2)))
    run_id = run_id_of(ada.post(f"/runs/flows/{flow_id}/start"))
    response = ada.get(f"/runs/{run_id}/download")
    assert response.status_code == 200
    assert response.mimetype == "application/zip"
    assert response.headers["Content-Disposition"].startswith("attachment")
    run = flows.run(run_id)
    with zipfile.ZipFile(io.BytesIO(response.data)) as bundle:
        names = set(bundle.namelist())
        assert names == {"manifest.csv", "orgs.csv", "courses.csv", "classes.csv",
                         "users.csv", "roles.csv", "enrollments.csv"}
        rows = {e: len(bundle.read(f"{e}.csv").decode().splitlines()) - 1 for e in run.counts}
    assert rows == run.counts == SampleSchool(3, 4, 2).totals()


def test_deleting_the_flow_removes_its_runs_and_their_files(app, ada, flows, tmp_path):
    flow_id = flows.create()
    run_id = run_id_of(ada.post(f"/runs/flows/{flow_id}/start"))
    bundles = list((tmp_path / "artifacts").rglob("*.zip"))
    assert len(bundles) == 1
    assert ada.post(f"/flows/{flow_id}/delete").status_code in (302, 303)
    assert not bundles[0].exists()
    assert ada.get(f"/runs/{run_id}").status_code == 404
