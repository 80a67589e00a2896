"""source-test-data: a deterministic sample school with consistent references."""

from __future__ import annotations

import threading
from collections import Counter

import pytest

from oneroster.model import ENTITIES
from sdm_plugins.source_test_data.school import SampleSchool
from sdm_plugins.source_test_data.source import SampleSchoolSource
from webapp.plugin_api import ConfigInvalid, SourceConfig


def read_all(plugin: SampleSchoolSource, entities=ENTITIES, **kwargs):
    got: dict[str, list] = {e: [] for e in entities}
    progress = []
    result = plugin.read(entities, sink=lambda e, rs: got[e].extend(rs),
                         progress=lambda p: progress.append((p.entity, p.state, p.fetched)),
                         **kwargs)
    return got, result, progress


def test_defaults_match_the_product():
    plugin = SampleSchoolSource({})
    assert (plugin.config["classes"], plugin.config["users_per_class"],
            plugin.config["teachers"]) == (10, 25, 5)
    assert [f.label for f in SampleSchoolSource.fields] == [
        "Number of classes", "Users per class", "Number of teachers"]
    reports = []
    report = SampleSchoolSource.preflight(SourceConfig({}), reports.append, threading.Event())
    assert report.ok and report.totals == {"orgs": 2, "courses": 10, "classes": 10,
                                           "users": 68, "enrollments": 260}
    checked = SampleSchoolSource.check(SourceConfig({}), reports.append, threading.Event())
    assert checked.ok and reports[-1] == checked


def test_read_is_deterministic_and_complete():
    first, result, progress = read_all(SampleSchoolSource({}))
    second, _, _ = read_all(SampleSchoolSource({}))
    assert result.ok
    assert {e: [r.data for r in rs] for e, rs in first.items()} == \
        {e: [r.data for r in rs] for e, rs in second.items()}
    totals = SampleSchool().totals()
    assert {e: len(rs) for e, rs in first.items()} == totals
    assert {e: r.records for e, r in result.results.items()} == totals
    assert ("enrollments", "done", 260) in progress


def test_references_are_consistent():
    got, _, _ = read_all(SampleSchoolSource({"classes": 7, "users_per_class": 9, "teachers": 3}))
    ids = {e: {r.sourced_id for r in rs} for e, rs in got.items()}
    for entity, records in got.items():
        assert len(ids[entity]) == len(records), f"duplicate sourcedIds in {entity}"
    for c in got["classes"]:
        assert c.data["course"]["sourcedId"] in ids["courses"]
        assert c.data["school"]["sourcedId"] in ids["orgs"]
    for course in got["courses"]:
        assert course.data["org"]["sourcedId"] in ids["orgs"]
    for e in got["enrollments"]:
        assert e.data["user"]["sourcedId"] in ids["users"]
        assert e.data["class"]["sourcedId"] in ids["classes"]
    per_class = Counter((e.data["class"]["sourcedId"], e.data["role"])
                        for e in got["enrollments"])
    assert all(per_class[(c, "student")] == 9 and per_class[(c, "teacher")] == 1
               for c in ids["classes"])
    pairs = [(e.data["class"]["sourcedId"], e.data["user"]["sourcedId"])
             for e in got["enrollments"]]
    assert len(pairs) == len(set(pairs)), "a user is enrolled twice in one class"


@pytest.mark.parametrize("config, field, message", [
    ({"classes": 0}, "classes", "at least 1"),
    ({"users_per_class": "lots"}, "users_per_class", "whole number"),
    ({"teachers": 100000}, "teachers", "at most"),
    ({"entities": ["orgs", "grades"]}, "entities", "Unknown choice"),
    ({"sync": "sometimes"}, "sync", "Choose one of"),
])
def test_invalid_configuration_is_explained_per_field(config, field, message):
    with pytest.raises(ConfigInvalid) as raised:
        SampleSchoolSource(config)
    assert message in raised.value.errors[field]


def test_form_values_are_parsed():
    from werkzeug.datastructures import MultiDict

    config, errors = SampleSchoolSource.parse(MultiDict([
        ("classes", "3"), ("users_per_class", "4"), ("teachers", ""),
        ("entities", "users"), ("entities", "orgs"), ("sync", "delta"),
        ("schools", "a, b\nc")]))
    assert errors == {}
    assert config == {"classes": 3, "users_per_class": 4, "teachers": 5,
                      "entities": ["orgs", "users"], "sync": "delta",
                      "schools": ["a", "b", "c"]}


def test_cancel_stops_the_read():
    cancel = threading.Event()
    cancel.set()
    got, result, _ = read_all(SampleSchoolSource({}), cancel=cancel)
    assert not result.ok and all(not rs for rs in got.values())
    assert {r.error.category for r in result.results.values()} == {"cancelled"}


def test_school_filter_keeps_only_chosen_schools():
    kept, _, _ = read_all(SampleSchoolSource({"schools": ["td-school"]}))
    assert {e: len(rs) for e, rs in kept.items()} == SampleSchool().totals()
    other, _, _ = read_all(SampleSchoolSource({"schools": ["elsewhere"]}))
    assert {e: len(rs) for e, rs in other.items()} == {
        "orgs": 0, "courses": 0, "classes": 0, "users": 0, "enrollments": 0}


def test_sample_returns_first_rows_and_totals():
    samples = SampleSchoolSource({}).sample(["users", "enrollments"], limit=2)
    assert len(samples["users"].records) == 2 and samples["users"].total == 68
    assert samples["enrollments"].records[0].data["role"] == "teacher"
