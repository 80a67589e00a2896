"""Pages in the 1.2 shape read without dicts: exactly the pages normalize.py would leave as
they are, into the records it makes, each holding its JSON as the server sent it."""

from __future__ import annotations

import json

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from oneroster.decoding import decoded_here
from oneroster.model import ENTITIES
from oneroster.normalize import DATA_TYPE, in_shape, normalize_page
from oneroster.shapes import rows_in_shape
from tests.source_oneroster.fake_sis import rows

EVERY = (*ENTITIES, "academicSessions", "demographics", "students", "schools", "terms")
ABSENT = object()
# Values servers send, in shape and not: enums in other spellings, arrays as text, types
# that are not strings, empty values.
VALUES = st.sampled_from([
    ABSENT, None, "", "active", "tobedeleted", "inactive", "true", "false", "True", True, 1,
    0, 3.5, "x", "a,b", [], ["06"], {}, {"sourcedId": "o1"}, "student", "Student", "teacher",
    "administrator", "scheduled", "Homeroom", "school", "district", "term", "female", "F",
    [{"role": "student"}], [{"role": "Student"}], [{"role": "administrator"}],
    [{"roleType": "primary", "role": "teacher", "org": {"sourcedId": "o1"}}], ["student"],
    [{"org": {"sourcedId": "o1"}}], [None]])
FIELDS = ("sourcedId", "status", "dateLastModified", "enabledUser", "roles", "primaryOrg",
          "grades", "subjects", "subjectCodes", "periods", "classType", "type", "role",
          "primary", "sex", "asian", "hispanicOrLatinoEthnicity", "role")


def records_of(entity: str, body: bytes):
    future = decoded_here(entity, body)
    return None if future is None else future.result()


def assert_same_records(mine, theirs) -> None:
    assert [tuple(r[:4]) for r in mine] == [tuple(r[:4]) for r in theirs]
    assert [orjson.loads(r.data.json) for r in mine] == [r.data for r in theirs]
    assert all(r.data is r.raw for r in mine)


@pytest.mark.parametrize("entity", EVERY)
def test_a_page_in_shape_gives_the_records_normalize_makes(entity):
    body = orjson.dumps({entity: rows(DATA_TYPE[entity], 30)})
    mine = records_of(entity, body)
    assert mine is not None
    assert_same_records(mine, normalize_page(entity, orjson.loads(body)[entity]))
    assert [r.data.json for r in mine] == list(map(orjson.dumps, orjson.loads(body)[entity]))


def test_each_record_keeps_its_json_as_sent_spaces_and_all():
    page = rows("users", 4)
    page[1]["givenName"] = "Zoë \"Z\" Ødegård"
    spaced = json.dumps({"users": page}, ensure_ascii=False).encode()  # ", " and ": "
    records = records_of("users", spaced)
    assert records is not None
    assert [orjson.loads(r.data.json) for r in records] == page
    assert all(r.data.json in spaced and b'"sourcedId": "use-' in r.data.json
               for r in records)
    assert records[1].data["givenName"] == "Zoë \"Z\" Ødegård"


@pytest.mark.parametrize("options", [{"ensure_ascii": True}, {"indent": 2}, {"indent": "\t"}])
def test_escapes_and_line_breaks_are_written_anew(options):
    page = rows("users", 2)
    page[0]["givenName"] = "Zoë"
    body = json.dumps({"users": page}, ensure_ascii=options.pop("ensure_ascii", False),
                      **options).encode()
    assert rows_in_shape("users", body) is None  # read the usual way: stored as orjson writes
    assert rows_in_shape("users", orjson.dumps({"users": page})) is not None


def test_an_escaped_slash_is_written_anew():
    body = orjson.dumps({"users": rows("users", 1)}).replace(b"https://", b"https:\\/\\/")
    assert b"\\/" in body and rows_in_shape("users", body) is None


def test_the_list_is_found_under_the_data_type_then_under_the_path():
    page = rows("users", 2)
    body = orjson.dumps({"meta": {"users": page[:1]}, "students": None, "users": page})
    records = records_of("students", body)  # the list's first bytes come first under "meta"
    assert [r.sourced_id for r in records] == ["use-00000", "use-00001"]
    assert [orjson.loads(r.data.json) for r in records] == page
    body = orjson.dumps({"users": None, "students": page})
    assert [r.sourced_id for r in records_of("students", body)] == ["use-00000", "use-00001"]
    assert records_of("users", orjson.dumps({"users": []})) == []


@pytest.mark.parametrize("body", [b"not json", b'{"users": {}}', b"[1, 2]", b'{"users": 3}',
                                  b'{"data": []}', b'{"users": [{"status": "active"}]}',
                                  b'{"users": [1]}', b'{"users": [{"sourcedId": ""'])
def test_a_page_that_is_not_a_list_of_records_in_shape_is_read_the_usual_way(body):
    assert rows_in_shape("users", body) is None


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(entity=st.sampled_from(EVERY), data=st.data())
def test_a_page_is_read_without_dicts_exactly_when_it_is_in_shape(entity, data):
    page = rows(DATA_TYPE[entity], 3)
    for record in page:
        for field in data.draw(st.lists(st.sampled_from(FIELDS), max_size=3)):
            value = data.draw(VALUES)
            if value is ABSENT:
                record.pop(field, None)
            else:
                record[field] = value
    body = orjson.dumps({entity: page})
    mine = records_of(entity, body)
    assert (mine is not None) == in_shape(entity, orjson.loads(body)[entity])
    if mine is not None:
        assert_same_records(mine, normalize_page(entity, orjson.loads(body)[entity]))
