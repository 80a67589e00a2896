"""OneRoster 1.1 and 1.2 records, as real servers send them, in one 1.2 shape."""

from __future__ import annotations

import copy

import pytest

from oneroster.model import Category, OneRosterError, Record
from oneroster.normalize import new_record, normalize_page, normalizer

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


def _page_of(entity, rows):
    return normalize_page(entity, rows), [normalizer(entity)(row) for row in rows]


def test_a_conforming_page_is_kept_as_sent_without_copies():
    rows = [{"sourcedId": f"e{i}", "status": "active", "dateLastModified": "2026-01-01T00:00:00Z",
             "role": "student", "primary": "false"} for i in range(3)]
    records, one_by_one = _page_of("enrollments", rows)
    assert records == one_by_one
    for record, row in zip(records, rows, strict=True):
        assert record.raw is row and record.data is row


@pytest.mark.parametrize(("entity", "odd"), [
    ("users", {"sourcedId": "u9", "status": "active", "role": "administrator", "orgs": [ORG1]}),
    ("users", {"sourcedId": "u9", "status": "active", "enabledUser": True,
               "roles": [{"roleType": "primary", "role": "Teacher", "org": ORG1}]}),
    ("users", {"sourcedId": "u9", "status": "active", "grades": "09, 10", "primaryOrg": ORG1,
               "roles": [{"roleType": "primary", "role": "student", "org": ORG1}]}),
    ("enrollments", {"sourcedId": 42, "status": "inactive", "role": "Student", "primary": 1}),
    ("classes", {"sourcedId": "c9", "status": None, "classType": "Homeroom", "periods": "1,2"}),
    ("orgs", {"sourcedId": "o9", "status": "active", "type": "School"}),
    ("terms", {"sourcedId": "t9", "status": "active", "type": "SchoolYear"}),
    ("demographics", {"sourcedId": "d9", "status": "active", "sex": "F", "white": 1}),
])
def test_one_odd_record_makes_the_page_normalise_like_record_by_record(entity, odd):
    good = {"orgs": {"type": "school"}, "terms": {"type": "term"}, "classes": {},
            "enrollments": {"role": "student"}, "demographics": {"sex": "female"},
            "users": {"primaryOrg": ORG1,
                      "roles": [{"roleType": "primary", "role": "teacher", "org": ORG1}]}}[entity]
    rows = [{"sourcedId": "a1", "status": "active", **good}, copy.deepcopy(odd)]
    records, one_by_one = _page_of(entity, rows)
    assert records == one_by_one
    assert records[1].data != odd or records[1].sourced_id != odd["sourcedId"]


@pytest.mark.parametrize("odd", [{"status": "active"}, {"sourcedId": "", "status": "active"},
                                 {"sourcedId": None}, "not a record"])
def test_a_page_with_a_record_without_sourced_id_is_an_invalid_response(odd):
    with pytest.raises(OneRosterError) as caught:
        normalize_page("users", [{"sourcedId": "u1", "status": "active"}, odd])
    assert caught.value.category == Category.INVALID_RESPONSE
