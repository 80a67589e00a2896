"""A run's CSV bundle names no record it does not hold, unless its manifest says why.

Each test runs a flow against the sandbox SIS, loads every CSV file of the bundle and resolves
every sourcedId the 1.2 binding's reference columns name.
"""

from __future__ import annotations

import csv
import io
import zipfile

import pytest

from sdm_plugins.output_oneroster_csv.binding import LISTS, REFERENCES
from tests.runs.conftest import graph, source
from tests.runs.test_run_test_data import run_id_of

WITH_DEMOGRAPHICS = ["orgs", "courses", "classes", "users", "enrollments", "demographics"]


def bundle_of(ada, run_id: int) -> dict[str, list[dict[str, str]]]:
    """Return every CSV file of a run's bundle as rows keyed by column."""
    response = ada.get(f"/runs/{run_id}/download")
    assert response.status_code == 200
    archive = zipfile.ZipFile(io.BytesIO(response.data))
    return {name.removesuffix(".csv"): list(csv.DictReader(io.StringIO(
        archive.read(name).decode("utf-8")))) for name in archive.namelist()}


def dangling(files: dict[str, list[dict[str, str]]]) -> dict[tuple[str, str, str], set[str]]:
    """Return, per (file, column, referenced file), the sourcedIds named but not held."""
    held = {name: {row["sourcedId"] for row in rows} for name, rows in files.items()
            if name != "manifest"}
    found: dict[tuple[str, str, str], set[str]] = {}
    for name, refs in REFERENCES.items():
        for row in files.get(name, ()):
            for column, target in refs:
                value = row[column]
                for sourced_id in (value.split(",") if column in LISTS else [value]):
                    if sourced_id and sourced_id not in held.get(target, ()):
                        found.setdefault((name, column, target), set()).add(sourced_id)
    return found


def notes(files) -> list[str]:
    return [row["value"] for row in files["manifest"]
            if row["propertyName"].startswith("ext.sdm.note.")]


def explained(key: tuple[str, str, str], ids: set[str], files, sandbox) -> bool:
    """Whether the manifest explains why these ids of one column point nowhere."""
    name, column, target = key
    manifest = {row["propertyName"]: row["value"] for row in files["manifest"]}
    said = notes(files)
    if manifest[f"file.{target}"] == "absent":
        return any(n.startswith(f"file.{target} absent: ") and f"{column} values in "
                   f"{name}.csv" in n for n in said)
    gone = {r["sourcedId"] for r in sandbox.app.district.records(target, "")
            if r.get("status") == "tobedeleted"}
    return ids <= gone and any(f"{column} value" in n and f"in {name}.csv" in n
                               and f" {target} marked tobedeleted, left out" in n for n in said)


def run_flow(ada, flows, connection_id: int, entities: list[str] | None = None):
    config = {"connection_id": connection_id}
    if entities:
        config["entities"] = entities
    flow_id = flows.create(graph(source(plugin="source-oneroster", **config)))
    return flows.run(run_id_of(ada.post(f"/runs/flows/{flow_id}/start")))


@pytest.mark.parametrize("entities", [None, WITH_DEMOGRAPHICS], ids=["default", "demographics"])
def test_every_reference_resolves_or_the_manifest_says_why(ada, flows, sandbox, connect,
                                                           entities):
    run = run_flow(ada, flows, connect(), entities)
    assert run.status == "completed", (run.error, run.integrity)
    # The stored records hold every record the SIS sent, tobedeleted ones included.
    assert run.integrity["summary"] == ("No problems found: every reference points to a "
                                        "stored record and no source repeats a sourcedId.")
    assert len(run.integrity["checked"]) == 13
    files = bundle_of(ada, run.id)
    assert {"academicSessions", "orgs", "courses", "classes", "users", "roles",
            "enrollments"} <= set(files)
    assert ("demographics" in files) == bool(entities)
    loose = dangling(files)
    # The sandbox marks some users tobedeleted: their enrollments name users the bulk file
    # leaves out, and the manifest says so.
    assert ("enrollments", "userSourcedId", "users") in loose
    for key, ids in loose.items():
        assert explained(key, ids, files, sandbox), (key, sorted(ids)[:5], notes(files))
    for key in (("classes", "termSourcedIds", "academicSessions"),
                ("courses", "schoolYearSourcedId", "academicSessions")):
        assert key not in loose  # the sessions they name are in the bundle


def test_demographics_not_granted_complete_the_run_and_the_manifest_says_why(
        app, ada, flows, sandbox, connect):
    run = run_flow(ada, flows, connect("no-demographics"), WITH_DEMOGRAPHICS)
    assert run.status == "completed", (run.error, run.integrity)
    demographics = next(c for c in run.collections if c.entity == "demographics")
    assert demographics.state == "completed" and demographics.records == 0
    reason = ("The SIS did not grant demographics: the token it issued does not carry the "
              "roster-demographics.readonly scope")
    assert demographics.error["message"] == reason
    assert [f["message"] for f in run.integrity["info"] if f["code"] == "not_granted"] == \
        [reason]
    page = ada.get(f"/runs/{run.id}").get_data(as_text=True)
    assert "Not granted" in page and "Retry failed collections" not in page
    files = bundle_of(ada, run.id)
    manifest = {row["propertyName"]: row["value"] for row in files["manifest"]}
    assert manifest["file.demographics"] == "absent" and "demographics" not in files
    assert f"file.demographics absent: t{reason[1:]}" in notes(files)
    for key, ids in dangling(files).items():
        assert explained(key, ids, files, sandbox), (key, sorted(ids)[:5], notes(files))


def test_a_preview_of_demographics_not_granted_warns_instead_of_failing(app, ada, connect,
                                                                         people):
    from webapp.runs import services

    node = source(plugin="source-oneroster", connection_id=connect("no-demographics"),
                  entities=WITH_DEMOGRAPHICS)
    with app.app_context():
        result = services.preview([node], organization_id=people.org_id("Springfield District"))
    assert result.ok
    demographics = next(c for c in result.collections if c.entity == "demographics")
    assert demographics.error is None
    assert demographics.warnings == (
        "Not granted: the SIS answered HTTP 403; runs will go without demographics.",)
