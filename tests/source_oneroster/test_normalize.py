"""OneRoster 1.1 and 1.2 records, as real servers send them, in one 1.2 shape."""

from __future__ import annotations

import copy

import pytest

from plugins.source_oneroster.model import Category, OneRosterError, Record
from plugins.source_oneroster.normalize import new_record, normalizer

ORG1 = {"href": "https://h/orgs/o1", "sourcedId": "o1", "type": "org"}
ORG2 = {"href": "https://h/orgs/o2", "sourcedId": "o2", "type": "org"}


def test_a_conforming_record_is_kept_as_sent():
    raw = {"sourcedId": "e1", "status": "active", "dateLastModified": "2026-01-01T00:00:00Z",
           "role": "student", "primary": "false"}
    record = normalizer("enrollments")(raw)
    assert record == Record("enrollments", "e1", "active", "2026-01-01T00:00:00Z", raw, raw)
    assert record.data is record.raw  # nothing copied when nothing changes


def test_a_1p1_user_gets_1p2_roles_and_primary_org_and_keeps_its_original():
    raw = {"sourcedId": "u1", "status": "active", "enabledUser": True, "role": "administrator",
           "orgs": [ORG1, ORG2], "givenName": "Edna", "familyName": "Krabappel"}
    original = copy.deepcopy(raw)
    record = normalizer("users")(raw)
    assert record.data["roles"] == [
        {"roleType": "primary", "role": "siteAdministrator", "org": ORG1},
        {"roleType": "secondary", "role": "siteAdministrator", "org": ORG2},
    ]
    assert record.data["primaryOrg"] == ORG1
    assert record.data["enabledUser"] == "true"
    assert record.raw == original  # the server's record, untouched


@pytest.mark.parametrize(("sent", "expected"), [
    (True, "true"), (False, "false"), (1, "true"), (0, "false"), ("1", "true"),
    ("True", "true"), ("FALSE", "false"), ("true", "true"),
])
def test_enabled_user_as_boolean_string_or_number(sent, expected):
    raw = {"sourcedId": "u1", "status": "active", "enabledUser": sent, "roles": [
        {"roleType": "primary", "role": "student", "org": ORG1}]}
    assert normalizer("users")(raw).data["enabledUser"] == expected


def test_ext_enum_values_are_accepted_and_spellings_are_mended():
    users = normalizer("users")
    raw = {"sourcedId": "u1", "status": "Active", "enabledUser": "true", "roles": [
        {"roleType": "primary", "role": "Student", "org": ORG1},
        {"roleType": "secondary", "role": "ext:librarian", "org": ORG2}]}
    record = users(raw)
    assert [r["role"] for r in record.data["roles"]] == ["student", "ext:librarian"]
    assert record.status == "active" and record.data["primaryOrg"] == ORG1
    assert raw["roles"][0]["role"] == "Student"
    sessions = normalizer("terms")
    assert sessions({"sourcedId": "t", "status": "active", "type": "GRADINGPERIOD"}) \
        .data["type"] == "gradingPeriod"
    assert normalizer("orgs")({"sourcedId": "o", "status": "active", "type": "ext:campus"}) \
        .data["type"] == "ext:campus"


def test_inactive_from_1p1_means_tobedeleted():
    record = normalizer("classes")({"sourcedId": "c", "status": "inactive"})
    assert record.status == "tobedeleted" and record.data["status"] == "tobedeleted"
    assert record.raw["status"] == "inactive"


def test_enrollment_primary_and_lists_sent_as_text():
    enrollment = normalizer("enrollments")({"sourcedId": "e", "status": "active",
                                            "role": "Teacher", "primary": True})
    assert (enrollment.data["role"], enrollment.data["primary"]) == ("teacher", "true")
    course = normalizer("courses")({"sourcedId": "k", "status": "active", "grades": "09, 10",
                                    "subjects": ["Math"]})
    assert course.data["grades"] == ["09", "10"] and course.data["subjects"] == ["Math"]


def test_demographic_flags_become_strings():
    record = normalizer("demographics")({"sourcedId": "u", "status": "active", "sex": "Female",
                                         "asian": True, "white": "0"})
    assert (record.data["sex"], record.data["asian"], record.data["white"]) == \
        ("female", "true", "false")


@pytest.mark.parametrize("raw", [{"status": "active"}, {"sourcedId": "", "status": "active"},
                                 "not a record"])
def test_a_record_without_sourced_id_is_an_invalid_response(raw):
    with pytest.raises(OneRosterError) as caught:
        normalizer("users")(raw)
    assert caught.value.category == Category.INVALID_RESPONSE
    assert caught.value.entity == "users"


def test_new_record_builds_an_equal_frozen_record():
    fast = new_record("orgs", "o1", "active", None, {}, {})
    assert fast == Record("orgs", "o1", "active", None, {}, {})
    with pytest.raises(AttributeError):
        fast.status = "tobedeleted"  # type: ignore[misc]
