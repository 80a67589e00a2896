"""Storing records: exact rows, and a run's end settled from the tally or the records."""

from __future__ import annotations

import time
from functools import partial

import orjson
import pytest
from sqlalchemy import event, func, select, text

from oneroster.model import Record
from tests.runs.conftest import graph, pretty, ref, source
from tests.runs.test_engine import ROSTER
from tests.runs.test_run_test_data import run_id_of
from webapp.extensions import db
from webapp.models import Run, RunRecord, RunReference
from webapp.runs import integrity, references, store
from webapp.runs.store import RecordWriter, StoreFailed
from webapp.runs.tally import Tally, pointed


def rows(app, run_id: int, entity: str) -> list[tuple]:
    with app.app_context():
        return db.session.execute(
            select(RunRecord.sourced_id, RunRecord.status, RunRecord.date_last_modified,
                   RunRecord.ref_a, RunRecord.ref_b, RunRecord.superseded, RunRecord.data)
            .where(RunRecord.run_id == run_id, RunRecord.entity == entity)
            .order_by(RunRecord.id)).all()


def test_each_row_holds_the_records_fields_and_its_json_as_orjson_writes_it(
        app, ada, flows, scripted):
    odd = {"sourcedId": "enr-9", "status": "", "user": ref("user-1", "user"),
           "class": {"sourcedId": None}, "school": "school-1", "role": "student",
           "note": "quote \" backslash \\ tab \t é ☃ \U0001f600 </script>",
           "numbers": [1, -2.5, 1e300, 0.1, True, None], "nested": {"a": {"b": []}}}
    roster = {**ROSTER, "enrollments": [*ROSTER["enrollments"], odd]}
    flow_id = flows.create(graph(source(plugin="source-scripted", records=roster)))
    run = flows.run(run_id_of(ada.post(f"/runs/flows/{flow_id}/start")))
    stored = rows(app, run.id, "enrollments")
    assert [r[0] for r in stored] == [e["sourcedId"] for e in roster["enrollments"]]
    first = stored[0]
    assert first[:6] == ("enr-0", "active", None, "user-0", "class-1", False)
    assert stored[-1][:6] == ("enr-9", "active", None, "user-1", None, False)
    for row, record in zip(stored, roster["enrollments"], strict=True):
        assert row[6] == orjson.dumps(record).decode()
    assert run.integrity["warnings"][0]["code"] == "missing_class"
    assert run.integrity["warnings"][0]["examples"] == ["enr-9"]


@pytest.mark.parametrize("how", ["native", "insert"])
@pytest.mark.parametrize("held", ["json", "pretty", "mapping"])
def test_a_source_may_hand_over_data_as_a_mapping_or_as_json_already(
        app, ada, flows, scripted, monkeypatch, how, held):
    if how == "insert":
        monkeypatch.setattr(store, "method", lambda dialect: "insert")
    odd = {"sourcedId": "enr-9", "status": "active", "user": ref("user-1", "user"),
           "class": ref("class-1", "class"), "role": "student", "note": "tab\t \\N é"}
    roster = {**ROSTER, "enrollments": [*ROSTER["enrollments"], odd]}
    flow_id = flows.create(graph(source(plugin="source-scripted", records=roster,
                                        held=held)))
    run = flows.run(run_id_of(ada.post(f"/runs/flows/{flow_id}/start")))
    assert run.status == "completed"
    stored = rows(app, run.id, "enrollments")
    as_given = {"json": partial(orjson.dumps, option=orjson.OPT_SORT_KEYS),
                "pretty": pretty, "mapping": orjson.dumps}[held]  # the source's JSON
    assert [r[6] for r in stored] == [as_given(e).decode() for e in roster["enrollments"]]
    assert stored[-1][:5] == ("enr-9", "active", None, "user-1", "class-1")
    assert run.counts["enrollments"] == len(roster["enrollments"])


@pytest.mark.parametrize("how", ["native", "insert"])
def test_separators_and_escapes_in_any_column_are_stored_as_sent(app, ada, flows, scripted,
                                                                 monkeypatch, how):
    # On PostgreSQL records go in through COPY's text format, where a tab, a line break, a
    # backslash or a literal \\N would otherwise split a row or become a NULL. "insert" is
    # the multi-row INSERT kept for other databases, tried here on this one.
    if how == "insert":
        monkeypatch.setattr(store, "method", lambda dialect: "insert")
    odd_ids = ["tab\there", "line\nbreak", "carriage\rreturn", "back\\slash", "\\N", "é ☃"]
    users = [{"sourcedId": i, "status": "active", "dateLastModified": f"2026-01-0{n + 1}",
              "givenName": i, "roles": []} for n, i in enumerate(odd_ids)]
    enrollments = [{"sourcedId": f"enr\t{n}", "status": "tobedeleted", "user": ref(i, "user"),
                    "class": ref("class\\1", "class"), "role": "student"}
                   for n, i in enumerate(odd_ids)]
    roster = {**ROSTER, "users": users, "enrollments": enrollments}
    flow_id = flows.create(graph(source(plugin="source-scripted", records=roster)))
    run = flows.run(run_id_of(ada.post(f"/runs/flows/{flow_id}/start")))
    stored = rows(app, run.id, "users")
    assert [r[:3] for r in stored] == [
        (i, "active", f"2026-01-0{n + 1}") for n, i in enumerate(odd_ids)]
    assert [orjson.loads(r[6]) for r in stored] == users
    stored = rows(app, run.id, "enrollments")
    assert [r[:5] for r in stored] == [
        (f"enr\t{n}", "tobedeleted", None, i, "class\\1") for n, i in enumerate(odd_ids)]
    assert [r[6] for r in stored] == [orjson.dumps(e).decode() for e in enrollments]
    assert run.counts["users"] == len(odd_ids)


def test_a_sourced_id_sent_twice_is_settled_by_the_database(app, ada, flows, scripted):
    again = {**ROSTER["users"][0], "givenName": "Second"}
    roster = {**ROSTER, "users": [*ROSTER["users"], again]}
    flow_id = flows.create(graph(source(plugin="source-scripted", records=roster)))
    run = flows.run(run_id_of(ada.post(f"/runs/flows/{flow_id}/start")))
    assert run.counts["users"] == 4
    codes = {w["code"]: w for w in run.integrity["warnings"]}
    assert codes["duplicate_sourced_id"]["count"] == 1
    kept = [r for r in rows(app, run.id, "users") if not r[5]]
    assert len(kept) == 4 and orjson.loads(kept[-1][6])["givenName"] == "Second"


def test_references_that_are_not_strings_are_checked_by_the_database(
        app, ada, flows, scripted):
    numbered = {"sourcedId": "enr-n", "user": {"sourcedId": 7}, "class": ref("class-1", "class"),
                "role": "student"}
    roster = {**ROSTER, "enrollments": [*ROSTER["enrollments"], numbered]}
    flow_id = flows.create(graph(source(plugin="source-scripted", records=roster)))
    run = flows.run(run_id_of(ada.post(f"/runs/flows/{flow_id}/start")))
    found = {w["code"]: w for w in run.integrity["warnings"]}
    assert found["missing_user"]["count"] == 1 and found["missing_user"]["examples"] == ["enr-n"]
    assert rows(app, run.id, "enrollments")[-1][3] == "7"


def test_the_tally_reports_what_the_database_would(app, ada, flows, scripted):
    broken = {**ROSTER, "enrollments": [
        *ROSTER["enrollments"],
        {"sourcedId": "enr-x", "user": ref("ghost", "user"), "class": None, "role": "student"},
        {"sourcedId": "enr-y", "class": ref("class-1", "class"), "role": "student"}]}
    flow_id = flows.create(graph(source(plugin="source-scripted", records=broken)))
    run = flows.run(run_id_of(ada.post(f"/runs/flows/{flow_id}/start")))
    tally = Tally()
    for entity, records in broken.items():
        tally.add(0, entity, len(records), sum(r.get("status") == "tobedeleted" for r in records),
                  pointed(entity, records))
    assert tally.plain  # the tally settles it all alone
    entities = ["orgs", "courses", "classes", "users", "enrollments"]
    with app.app_context():
        tally.unresolved = references.unresolved(run.id)
        from_database = integrity.report(run.id, entities, delta=False, overlaps={},
                                         same_source={}, merged=False).to_dict()
        from_tally = integrity.report(run.id, entities, delta=False, overlaps={},
                                      same_source={}, merged=False,
                                      deleted=tally.counts(tobedeleted=True),
                                      references=tally).to_dict()
    assert tally.unresolved == {("enrollments", "user"): 1}  # ghost
    assert from_tally == from_database
    assert orjson.loads(orjson.dumps(from_tally)) == run.integrity
    assert {w["code"]: w["count"] for w in from_tally["warnings"]} == {
        "missing_user": 2, "missing_class": 1}
    assert tally.missing("enrollments", "user", "users") is None  # the records count
    assert tally.missing("enrollments", "class", "classes") is None  # one has none
    assert tally.missing("classes", "course", "courses") == 0


def test_the_targets_of_references_are_stored_once_in_the_database(app, ada, flows, scripted):
    flow_id = flows.create(graph(source(plugin="source-scripted", records=ROSTER)))
    run = flows.run(run_id_of(ada.post(f"/runs/flows/{flow_id}/start")))
    expected = {("enrollments", field, r[field]["sourcedId"])
                for r in ROSTER["enrollments"] for field in ("user", "class")}
    with app.app_context():
        stored = db.session.execute(
            select(RunReference.entity, RunReference.field, RunReference.target)
            .where(RunReference.run_id == run.id)).all()
        assert len(stored) == len(set(stored))
        assert expected <= set(stored)
        assert ("users", "roles", "school-1") in stored and ("orgs", "parent", "district") in stored
        db.session.delete(db.session.get(Run, run.id))
        db.session.commit()
        assert db.session.scalar(select(func.count()).select_from(RunReference)) == 0


def test_a_clean_run_reads_no_record_to_check_references(app, ada, flows, scripted,
                                                        monkeypatch):
    asked = []
    for name in ("_missing_in_columns", "_missing_in_records"):
        scan = getattr(references, name)
        monkeypatch.setattr(references, name,
                            lambda *a, scan=scan, name=name, **k: asked.append(name)
                            or scan(*a, **k))
    flow_id = flows.create(graph(source(plugin="source-scripted", records=ROSTER)))
    run = flows.run(run_id_of(ada.post(f"/runs/flows/{flow_id}/start")))
    assert run.status == "completed" and run.integrity["warnings"] == []
    assert len(run.integrity["checked"]) == 10  # none of academic sessions: none were read
    assert asked == []


def test_records_no_statement_can_hold_fail_the_store_not_the_reader(app, ada, flows,
                                                                    scripted):
    flow_id = flows.create(graph(source(plugin="source-scripted", records=ROSTER)))
    run = flows.run(run_id_of(ada.post(f"/runs/flows/{flow_id}/start")))
    with app.app_context():
        writer = RecordWriter(db.engine, run.id).start()
        put = writer.sink(0)
        odd = {"sourcedId": "u-set", "tags": {"a", "b"}}  # a set has no JSON form
        with pytest.raises(StoreFailed):
            put("users", [Record("users", "u-set", "active", None, odd, odd)])
        assert writer.failed
        with pytest.raises(StoreFailed):
            writer.close()


@pytest.mark.parametrize("again", [False, True])
def test_the_writer_finds_a_sourced_id_stored_again_pages_later(app, ada, flows, scripted,
                                                                  again):
    flow_id = flows.create(graph(source(plugin="source-scripted", records=ROSTER)))
    run = flows.run(run_id_of(ada.post(f"/runs/flows/{flow_id}/start")))

    def page(first: int) -> list[Record]:
        return [Record("users", f"u-{n}", "active", None, {"sourcedId": f"u-{n}"}, {})
                for n in range(first, first + 5)]

    with app.app_context():
        writer = emptied_writer(run.id)
        put = writer.sink(0)
        for first in (0, 5, 10):
            put("users", page(first))
            settled(writer, first + 5)  # each page a batch of its own, committed
        put("users", page(2 if again else 15))
        writer.close()
        assert writer.tally.repeated is again
        assert writer.stored == 20


def emptied_writer(run_id: int) -> RecordWriter:
    """Delete a run's records and start a writer for it (in an app context)."""
    db.session.execute(db.delete(RunRecord).where(RunRecord.run_id == run_id))
    db.session.commit()
    return RecordWriter(db.engine, run_id).start()


def settled(writer: RecordWriter, stored: int) -> None:
    """Wait until the writer has stored so many records."""
    deadline = time.monotonic() + 10
    while writer.stored < stored and time.monotonic() < deadline:
        time.sleep(0.01)


def test_references_are_looked_up_one_by_one_whatever_the_planner_knows(
        app, ada, flows, scripted):
    flow_id = flows.create(graph(source(plugin="source-scripted", records=ROSTER)))
    flows.run(run_id_of(ada.post(f"/runs/flows/{flow_id}/start")))
    with app.app_context():
        db.session.execute(text("ANALYZE run_records"))  # statistics that predate the run
        db.session.commit()
    run = flows.run(run_id_of(ada.post(f"/runs/flows/{flow_id}/start")))
    asked = []
    with app.app_context():
        listen = lambda _c, _cur, statement, parameters, *_: asked.append((statement, parameters))  # noqa: E731
        event.listen(db.engine, "before_cursor_execute", listen)
        try:
            assert references.unresolved(run.id) == {}
        finally:
            event.remove(db.engine, "before_cursor_execute", listen)
        statement, parameters = asked[-1]
        sqlite = db.engine.dialect.name == "sqlite"
        with db.engine.connect() as conn:
            plan = "\n".join(str(row[-1]) for row in conn.exec_driver_sql(
                f"EXPLAIN {'QUERY PLAN ' if sqlite else ''}{statement}", parameters))
    # A join here may read every run's records, or the run's once per target.
    if sqlite:  # SQLite's planner keeps a correlated subquery one: checked all the same
        assert "CORRELATED SCALAR SUBQUERY" in plan and "SCAN run_records" not in plan, plan
        assert "ix_run_records_lookup (run_id=? AND entity=? AND sourced_id=?)" in plan, plan
    else:
        assert "SubPlan" in plan and "Join" not in plan, plan
