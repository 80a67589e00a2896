"""CSV formula injection: "Protect spreadsheet users" on by default, off byte for byte."""

from __future__ import annotations

import csv
import io
import zipfile

import pytest

from sdm_plugins.output_oneroster_csv.output import OneRosterCsvOutput
from tests.plugins.test_output_csv import Memory, school_data

FORMULAS = {"=HYPERLINK(\"http://evil.example\",\"click\")", "+1+cmd|' /C calc'!A0",
            "-2+3", "@SUM(A1:A9)", "\tTAB", "\rCR"}


def bundle(tmp_path, config):
    changes = {"td-teacher-0001": {"givenName": "=HYPERLINK(\"http://evil.example\",\"click\")",
                                   "familyName": "+1+cmd|' /C calc'!A0",
                                   "middleName": "-2+3", "email": "@SUM(A1:A9)"},
               "td-teacher-0002": {"givenName": "\tTAB", "familyName": "\rCR"}}
    path = tmp_path / "bundle.zip"
    result = OneRosterCsvOutput(config).write(Memory(school_data(**changes)), path)
    raw = zipfile.ZipFile(path).read("users.csv").decode("utf-8")
    return result, raw, [cell for row in csv.reader(io.StringIO(raw, newline=""))
                         for cell in row]


def test_protection_is_on_by_default_and_prefixes_every_risky_value(tmp_path):
    result, _, cells = bundle(tmp_path, {})
    for value in FORMULAS:
        assert "'" + value in cells
        assert value not in cells
    assert any("Protect spreadsheet users is on: 6 values" in note for note in result.notes)
    assert any("OWASP" in note for note in result.notes)


def test_protection_off_gives_the_values_byte_for_byte(tmp_path):
    result, raw, cells = bundle(tmp_path, {"protect_spreadsheets": "off"})
    for value in FORMULAS:
        assert value in cells
    assert "'=" not in raw
    assert any("Protect spreadsheet users is off" in note for note in result.notes)


def test_safe_values_are_never_changed(tmp_path):
    _, _, protected = bundle(tmp_path, {})
    _, _, exact = bundle(tmp_path, {"protect_spreadsheets": "off"})
    assert [c for c in protected if not c.startswith("'")] == \
        [c for c in exact if not (c and c[0] in "=+-@\t\r")]


def test_the_option_refuses_anything_but_on_or_off():
    with pytest.raises(Exception, match="Choose one of"):
        OneRosterCsvOutput({"protect_spreadsheets": "maybe"})


def test_the_option_is_set_in_the_editor_and_kept(app):
    from tests.security.world import build
    from webapp.extensions import db
    from webapp.models import FlowDraft

    world = build(app)
    admin, draft_id = world.clients["admin"], world.ids["editor_id"]
    panel = admin.get(f"/flows/editor/{draft_id}/nodes/output",
                      headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "Protect spreadsheet users" in panel
    response = admin.post(f"/flows/editor/{draft_id}/nodes/output",
                          data={"output": "output-oneroster-csv",
                                "protect_spreadsheets": "off"})
    assert response.status_code < 400
    with app.app_context():
        graph = db.session.get(FlowDraft, draft_id).data["graph"]
    output = next(n for n in graph["nodes"] if n["kind"] == "output")
    assert output["config"]["protect_spreadsheets"] == "off"
