"""output-oneroster-csv: the OneRoster 1.2 CSV bundle."""

from __future__ import annotations

import csv
import io
import uuid
import zipfile
from collections.abc import Iterator

from hypothesis import given
from hypothesis import strategies as st

from sdm_plugins.output_oneroster_csv import binding
from sdm_plugins.output_oneroster_csv.output import RISKY, OneRosterCsvOutput, Protector
from sdm_plugins.source_test_data.school import SampleSchool
from webapp.plugin_api import RunData, StoredRecord

HEADERS = {
    "orgs.csv": "sourcedId,status,dateLastModified,name,type,identifier,parentSourcedId",
    "courses.csv": "sourcedId,status,dateLastModified,schoolYearSourcedId,title,courseCode,"
                   "grades,orgSourcedId,subjects,subjectCodes",
    "classes.csv": "sourcedId,status,dateLastModified,title,grades,courseSourcedId,classCode,"
                   "classType,location,schoolSourcedId,termSourcedIds,subjects,subjectCodes,"
                   "periods",
    "users.csv": "sourcedId,status,dateLastModified,enabledUser,username,userIds,givenName,"
                 "familyName,middleName,identifier,email,sms,phone,agentSourcedIds,grades,"
                 "password,userMasterIdentifier,resourceSourcedIds,preferredGivenName,"
                 "preferredMiddleName,preferredFamilyName,primaryOrgSourcedId,pronouns",
    "roles.csv": "sourcedId,status,dateLastModified,userSourcedId,roleType,role,beginDate,"
                 "endDate,orgSourcedId,userProfileSourcedId",
    "enrollments.csv": "sourcedId,status,dateLastModified,classSourcedId,schoolSourcedId,"
                       "userSourcedId,role,primary,beginDate,endDate",
}


class Memory(RunData):
    def __init__(self, records: dict[str, list[StoredRecord]], mode: str = "bulk") -> None:
        self.run_id = 7
        self.label = "Nightly"
        self._records = records
        self._mode = mode

    def entities(self) -> list[str]:
        return list(self._records)

    def mode(self, entity: str) -> str:
        return self._mode

    def count(self, entity: str) -> int:
        return len(self._records[entity])

    def records(self, entity: str) -> Iterator[StoredRecord]:
        yield from sorted(self._records[entity], key=lambda r: r.sourced_id)


def school_data(**changes) -> dict[str, list[StoredRecord]]:
    school = SampleSchool(3, 4, 2)
    data = {}
    for entity in school.totals():
        data[entity] = [StoredRecord(r.sourced_id, r.status, r.date_last_modified,
                                     {**r.data, **changes.get(r.sourced_id, {})})
                        for r in school.records(entity)]
    return data


def write(tmp_path, data: RunData):
    path = tmp_path / "bundle.zip"
    result = OneRosterCsvOutput({}).write(data, path)
    bundle = zipfile.ZipFile(path)
    files = {name: list(csv.reader(io.StringIO(bundle.read(name).decode("utf-8"))))
             for name in bundle.namelist()}
    return result, files


def test_bundle_has_a_manifest_and_one_file_per_collection(tmp_path):
    data = school_data()
    result, files = write(tmp_path, Memory(data))
    assert set(files) == {"manifest.csv", *HEADERS}
    for name, header in HEADERS.items():
        assert ",".join(files[name][0]) == header, name
    for entity, records in data.items():
        assert len(files[f"{entity}.csv"]) - 1 == len(records)
        assert result.files[f"{entity}.csv"] == len(records)
    assert len(files["roles.csv"]) - 1 == len(data["users"])  # one role each


def test_manifest_follows_the_1_2_binding(tmp_path):
    _, files = write(tmp_path, Memory(school_data()))
    manifest = dict(files["manifest.csv"][1:])
    assert files["manifest.csv"][0] == ["propertyName", "value"]
    assert manifest["manifest.version"] == "1.0"
    assert manifest["oneroster.version"] == "1.2"
    for name in ("orgs", "courses", "classes", "users", "roles", "enrollments"):
        assert manifest[f"file.{name}"] == "bulk"
    for name in ("academicSessions", "demographics", "lineItems", "results", "userProfiles"):
        assert manifest[f"file.{name}"] == "absent"
    assert manifest["source.systemName"] == "SDM"
    assert manifest["source.systemCode"] == "Nightly"


def test_rows_render_references_lists_and_booleans(tmp_path):
    _, files = write(tmp_path, Memory(school_data()))
    classes = [dict(zip(files["classes.csv"][0], row, strict=True))
               for row in files["classes.csv"][1:]]
    first = next(c for c in classes if c["sourcedId"] == "td-class-001")
    assert first["courseSourcedId"] == "td-course-001"
    assert first["schoolSourcedId"] == "td-school"
    assert first["termSourcedIds"] == "td-year-2025"
    assert first["status"] == "" and first["dateLastModified"] == ""  # blank in bulk files
    users = [dict(zip(files["users.csv"][0], row, strict=True)) for row in files["users.csv"][1:]]
    teacher = next(u for u in users if u["sourcedId"] == "td-teacher-0001")
    assert teacher["userIds"] == "{SIS:TD-TEACHER-0001}"
    assert teacher["primaryOrgSourcedId"] == "td-school" and teacher["enabledUser"] == "true"
    enrollments = [dict(zip(files["enrollments.csv"][0], r, strict=True))
                   for r in files["enrollments.csv"][1:]]
    assert {e["primary"] for e in enrollments} == {"true", "false"}
    roles = [dict(zip(files["roles.csv"][0], r, strict=True)) for r in files["roles.csv"][1:]]
    role = next(r for r in roles if r["userSourcedId"] == "td-teacher-0001")
    assert (role["role"], role["roleType"], role["orgSourcedId"]) == \
        ("teacher", "primary", "td-school")


def test_bulk_leaves_out_tobedeleted_and_delta_keeps_it(tmp_path):
    gone = {"td-teacher-0002": {"status": "tobedeleted"}}
    data = school_data()
    data["users"] = [StoredRecord(r.sourced_id, "tobedeleted" if r.sourced_id in gone
                                  else r.status, r.date_last_modified, r.data)
                     for r in data["users"]]
    result, files = write(tmp_path, Memory(data))
    assert len(files["users.csv"]) - 1 == len(data["users"]) - 1
    assert "tobedeleted" in result.notes[0]

    result, files = write(tmp_path, Memory(data, mode="delta"))
    manifest = dict(files["manifest.csv"][1:])
    assert manifest["file.users"] == "delta"
    rows = {row[0]: row for row in files["users.csv"][1:]}
    assert rows["td-teacher-0002"][1] == "tobedeleted"
    assert rows["td-teacher-0001"][1:3] == ["active", "2025-08-01T00:00:00.000Z"]


def manifest_notes(files) -> list[str]:
    return [value for name, value in files["manifest.csv"][1:]
            if name.startswith("ext.sdm.note.")]


def test_the_manifest_says_why_each_reference_points_nowhere(tmp_path):
    data = school_data()
    data["users"] = [StoredRecord(r.sourced_id, "tobedeleted"
                                  if r.sourced_id == "td-teacher-0002" else r.status,
                                  r.date_last_modified, r.data) for r in data["users"]]
    data["classes"][0] = StoredRecord("td-class-001", "active", None, {
        **data["classes"][0].data, "course": {"sourcedId": "td-course-gone", "type": "course"}})
    result, files = write(tmp_path, Memory(data))
    notes = manifest_notes(files)
    taught = sum(1 for row in files["enrollments.csv"][1:] if row[5] == "td-teacher-0002")
    assert taught == 1  # the teacher's enrollment names a user left out of users.csv
    assert notes == [
        "1 courseSourcedId value in classes.csv names courses the SIS did not send",
        "1 userSourcedId value in enrollments.csv names users marked tobedeleted, left out "
        "of users.csv (a bulk file lists only what exists)",
        "file.academicSessions absent: this run read no academicSessions (3 termSourcedIds "
        "values in classes.csv; 3 schoolYearSourcedId values in courses.csv name its records)",
    ]
    assert all(note in result.notes for note in notes)


def test_a_complete_bundle_needs_no_note_and_a_withheld_file_gets_one(tmp_path):
    data = school_data()
    data["academicSessions"] = [StoredRecord("td-year-2025", "active", None, {
        "sourcedId": "td-year-2025", "title": "2025", "type": "schoolYear"})]

    class Withheld(Memory):
        def absent(self):
            return {"demographics": "The SIS did not grant demographics: it answered HTTP 403"}

    _, files = write(tmp_path, Memory(data))
    assert manifest_notes(files) == []
    _, files = write(tmp_path, Withheld(data))
    assert manifest_notes(files) == [
        "file.demographics absent: the SIS did not grant demographics: it answered HTTP 403"]
    assert dict(files["manifest.csv"][1:])["file.demographics"] == "absent"


def test_references_among_thousands_of_records_are_counted_exactly(tmp_path):
    # Enough sourcedIds to fill every part of the ledger's hash arrays, and to look each up.
    users = [StoredRecord(f"u{n}", "tobedeleted" if n % 40 == 0 else "active", None,
                          {"sourcedId": f"u{n}", "roles": []}) for n in range(4000)]
    # Three rows in a row name the same missing user: each is counted.
    named = [f"u{n}" for n in range(4000)] + [f"ghost-{n}" for n in range(70)] + ["ghost-0"] * 3
    enrollments = [StoredRecord(f"e{n}", "active", None, {
        "sourcedId": f"e{n}", "user": {"sourcedId": user}, "role": "student"})
        for n, user in enumerate(named)]
    result, files = write(tmp_path, Memory({"users": users, "enrollments": enrollments}))
    assert len(files["users.csv"]) - 1 == 3900
    assert "100 userSourcedId values in enrollments.csv name users marked tobedeleted, left " \
           "out of users.csv (a bulk file lists only what exists)" in result.notes
    assert "73 userSourcedId values in enrollments.csv name users the SIS did not send" \
           in result.notes


def test_the_ledgers_hashes_find_every_sourced_id_they_took_and_no_other():
    from sdm_plugins.output_oneroster_csv.references import Hashes

    hashes = Hashes()
    taken = [f"usr-{n:07d}" for n in range(20000)]
    for sourced_id in taken:
        hashes.add(sourced_id)
    hashes.seal()
    assert all(hash(sourced_id) in hashes for sourced_id in taken)
    assert not any(hash(f"other-{n}") in hashes for n in range(20000))
    assert sum(map(len, hashes.parts)) == 20000 and all(hashes.parts)


@given(st.lists(st.text(alphabet=st.sampled_from("=+-@\t\r\0ab,'\"é"), max_size=4),
                max_size=6))
def test_cells_are_protected_exactly_as_the_rule_says_whatever_they_hold(row):
    expected = ["'" + cell if cell and cell[0] in RISKY else cell for cell in row]
    guard = Protector(True)
    assert guard.row(list(row)) == expected
    assert guard.changed == sum(a != b for a, b in zip(expected, row, strict=True))


@given(st.text())
def test_a_roles_sourced_id_is_the_uuid5_of_its_key(key):
    assert binding.role_id(key) == str(uuid.uuid5(binding.ROLE_NAMESPACE, key))
