"""The integrity report follows every reference of the 1.2 binding; it claims what it checked."""

from __future__ import annotations

import copy

import pytest

from tests.runs.conftest import graph, org, ref, source
from tests.runs.test_engine import ROSTER
from tests.runs.test_run_test_data import run_id_of

EVERYTHING = ["orgs", "academicSessions", "courses", "classes", "users", "enrollments"]
SESSIONS = [
    {"sourcedId": "year-1", "title": "2025-2026", "type": "schoolYear"},
    {"sourcedId": "term-1", "title": "Autumn", "type": "term", "parent": ref("year-1", "x")},
]


def roster() -> dict:
    """ROSTER with academic sessions, and every optional reference given once."""
    data = copy.deepcopy(ROSTER)
    data["academicSessions"] = copy.deepcopy(SESSIONS)
    data["courses"][0]["schoolYear"] = ref("year-1", "academicSession")
    data["classes"][0]["terms"] = [ref("term-1", "academicSession")]
    data["users"][0]["primaryOrg"] = ref("school-1", "org")
    data["users"][1]["agents"] = [ref("user-0", "user")]
    return data


def start(ada, flows, records: dict, entities: list[str] = EVERYTHING):
    flow_id = flows.create(graph(source(plugin="source-scripted", records=records,
                                        entities=entities)))
    return flows.run(run_id_of(ada.post(f"/runs/flows/{flow_id}/start")))


CLEAN = ("No problems found: every reference points to a stored record and no source repeats "
         "a sourcedId.")


def test_a_complete_roster_checks_every_reference_and_says_so(ada, flows, scripted):
    run = start(ada, flows, roster())
    assert run.status == "completed", run.integrity
    assert run.integrity["summary"] == CLEAN
    assert run.integrity["checked"] == [
        "Organization parents", "Academic session parents", "Course school years",
        "Course organizations", "Class courses", "Class schools", "Class terms",
        "User organizations (roles)", "User primary organizations", "User agents",
        "Enrollment users", "Enrollment classes", "Enrollment schools"]
    page = ada.get(f"/runs/{run.id}").get_data(as_text=True)
    assert CLEAN in page


def test_references_not_checked_are_not_claimed(ada, flows, scripted):
    run = start(ada, flows, roster(), ["orgs", "courses", "classes", "users", "enrollments"])
    assert run.status == "completed"
    summary = run.integrity["summary"]
    assert summary == ("No problems found: every reference checked points to a stored record "
                       "(some could not be checked: see below) and no source repeats a "
                       "sourcedId.")
    assert "Class terms not checked: academic sessions were not read." in run.integrity["notes"]
    assert "Course school years not checked: academic sessions were not read." in \
        run.integrity["notes"]
    page = ada.get(f"/runs/{run.id}").get_data(as_text=True)
    assert "every reference points to a stored record" not in page


BROKEN = {
    "missing_parent": ("orgs", lambda d: d["orgs"].append(
        org("school-2", parent="district-gone")), "1 organization points to a missing parent "
        "organization"),
    "missing_session_parent": ("academicSessions", lambda d: d["academicSessions"].append(
        {"sourcedId": "term-2", "type": "term", "parent": ref("year-gone", "x")}),
        "1 academic session points to a missing parent academic session"),
    "missing_school_year": ("courses", lambda d: d["courses"][0].update(
        schoolYear=ref("year-gone", "x")), "1 course points to a missing school year"),
    "missing_course_org": ("courses", lambda d: d["courses"][0].update(
        org=ref("org-gone", "org")), "1 course points to a missing organization"),
    "missing_term": ("classes", lambda d: d["classes"][0].update(
        terms=[ref("term-1", "x"), ref("term-gone", "x")]), "1 class points to a missing term"),
    "missing_role_org": ("users", lambda d: d["users"][2]["roles"].append(
        {"roleType": "secondary", "role": "student", "org": ref("org-gone", "org")}),
        "1 user points to a missing organization in their roles"),
    "missing_primary_org": ("users", lambda d: d["users"][0].update(
        primaryOrg=ref("org-gone", "org")), "1 user points to a missing primary organization"),
    "missing_agent": ("users", lambda d: d["users"][1].update(
        agents=[ref("parent-gone", "user")]), "1 user points to a missing agent"),
    "missing_enrollment_school": ("enrollments", lambda d: d["enrollments"][3].update(
        school=ref("org-gone", "org")), "1 enrollment points to a missing school"),
}


@pytest.mark.parametrize("code", sorted(BROKEN))
def test_each_reference_pointing_nowhere_is_a_warning(ada, flows, scripted, code):
    entity, breaks, message = BROKEN[code]
    records = roster()
    breaks(records)
    run = start(ada, flows, records)
    assert run.status == "completed_with_warnings"
    found = {f["code"]: f for f in run.integrity["warnings"]}
    assert set(found) == {code}
    assert found[code]["entity"] == entity and found[code]["message"] == message
    assert found[code]["count"] == 1 and len(found[code]["examples"]) == 1
    assert run.integrity["summary"] == (
        "Warnings below: some references point to records the run does not hold and no "
        "source repeats a sourcedId.")
    page = ada.get(f"/runs/{run.id}").get_data(as_text=True)
    assert message in page and "every reference points to a stored record" not in page


def test_the_records_scan_agrees_with_the_tally(ada, flows, scripted):
    """A reference that is not a plain sourcedId sends every check to the database."""
    records = roster()
    BROKEN["missing_term"][1](records)
    records["enrollments"][0]["user"] = {"sourcedId": 7}  # not a string: the database decides
    run = start(ada, flows, records)
    found = {f["code"]: f["count"] for f in run.integrity["warnings"]}
    assert found == {"missing_term": 1, "missing_user": 1}
