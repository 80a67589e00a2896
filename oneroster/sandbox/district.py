"""A deterministic school district of a chosen size, kept as pre-serialised OneRoster records."""

from __future__ import annotations

import json
import math
import random
import threading
import time
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field

from oneroster.sandbox import names
from oneroster.sandbox.v1p1 import TO_1P1

# Records are stored once as JSON bytes; hrefs carry this marker, replaced by the base URL
# of the request, so a page is a join of bytes and one replace.
BASE = "@base@"
BASE_BYTES = BASE.encode()
EPOCH = 1754006400  # 2025-08-01T00:00:00Z: records were last modified in the 120 days after
SCHOOL_YEAR = "2026"
YEAR_START, YEAR_END = "2025-08-25", "2026-06-12"
CLASS_SIZE = 25
DELETED_SHARE = 0.02  # records flagged tobedeleted
SERVED_BASES = 2  # base URLs (host names, versions) a collection keeps ready-made copies for


def _dumps(record: dict) -> bytes:
    return json.dumps(record, ensure_ascii=False, separators=(",", ":")).encode()


def ref(kind: str, path: str, sourced_id: str) -> dict:
    """Return a GUIDRef to another record."""
    return {"href": f"{BASE}/{path}/{sourced_id}", "sourcedId": sourced_id, "type": kind}


def _ascii(text: str) -> str:
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return "".join(c for c in folded.lower() if c.isalnum())


@dataclass
class Collection:
    """One data type's records in sourcedId order, as JSON bytes per OneRoster version."""

    data_type: str
    ids: list[str]
    blobs: list[bytes]  # 1.2
    _v1p1: list[bytes] | None = None
    _index: dict[str, int] | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _served: dict[tuple[str, bytes], list[bytes]] = field(default_factory=dict)

    def position(self, sourced_id: str) -> int | None:
        """Return where a record sits, or None."""
        if self._index is None:
            self._index = {sid: i for i, sid in enumerate(self.ids)}
        return self._index.get(sourced_id)

    def served(self, version: str, base: bytes) -> list[bytes]:
        """Return the records with their hrefs under `base`, made once per base URL."""
        key = (version, base)
        found = self._served.get(key)
        if found is not None:
            return found
        blobs = self.version(version)
        with self._lock:
            found = self._served.get(key)
            if found is None:
                if len(self._served) >= SERVED_BASES:
                    self._served.pop(next(iter(self._served)))
                found = [blob.replace(BASE_BYTES, base) for blob in blobs]
                self._served[key] = found
            return found

    def version(self, version: str) -> list[bytes]:
        """Return the records as the given OneRoster version serialises them."""
        if version != "1.1":
            return self.blobs
        with self._lock:
            if self._v1p1 is None:
                convert = TO_1P1.get(self.data_type, lambda record: record)
                self._v1p1 = [_dumps(convert(json.loads(blob))) for blob in self.blobs]
            return self._v1p1


class District:
    """The sandbox's data: orgs, sessions, courses, classes, users, enrollments, demographics."""

    def __init__(self, users: int, seed: int = 2026) -> None:
        self.seed = seed
        self.collections: dict[str, Collection] = {}
        # Alias paths: (data type, positions in that collection).
        self.subsets: dict[str, tuple[str, list[int]]] = {}
        self._people: list[tuple[str, str | None, str]] = []  # (sourcedId, grade, modified)
        self._lock = threading.Lock()
        started = time.perf_counter()
        _Generator(self, max(8, users), seed).run()
        self.build_s = time.perf_counter() - started

    def collection(self, data_type: str) -> Collection:
        """Return a collection; demographics are made on first use."""
        if data_type == "demographics" and data_type not in self.collections:
            with self._lock:
                if data_type not in self.collections:
                    self.collections[data_type] = self._demographics()
        return self.collections[data_type]

    def records(self, data_type: str, base: str, version: str = "1.2") -> list[dict]:
        """Return every record of a collection as the server sends it, hrefs under `base`."""
        marker = base.encode()
        return [json.loads(blob.replace(BASE_BYTES, marker))
                for blob in self.collection(data_type).version(version)]

    def counts(self) -> dict[str, int]:
        return {name: len(c.ids) for name, c in self.collections.items()}

    def _demographics(self) -> Collection:
        rng = random.Random(self.seed + 7)
        ids, blobs = [], []
        flags = ("americanIndianOrAlaskaNative", "asian", "blackOrAfricanAmerican",
                 "nativeHawaiianOrOtherPacificIslander", "white")
        for sourced_id, grade, modified in self._people:
            if grade is None:
                year = rng.randint(1960, 1998)
            else:
                year = 2020 - (5 if grade == "KG" else 5 + int(grade))
            born = f"{year}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
            races = set(rng.sample(flags, 2 if rng.random() < 0.08 else 1))
            record = {"sourcedId": sourced_id, "status": "active", "dateLastModified": modified,
                      "birthDate": born,
                      "sex": rng.choices(("female", "male", "other", "unspecified"),
                                         (48, 48, 2, 2))[0]}
            for flag in flags:
                record[flag] = "true" if flag in races else "false"
            record["demographicRaceTwoOrMoreRaces"] = "true" if len(races) > 1 else "false"
            record["hispanicOrLatinoEthnicity"] = "true" if rng.random() < 0.25 else "false"
            record["countryOfBirthCode"] = "US" if rng.random() < 0.9 else rng.choice(
                ("MX", "PL", "IN", "CN", "NG", "PH"))
            record["stateOfBirthAbbreviation"] = rng.choice(names.STATES)
            record["cityOfBirth"] = rng.choice(names.CITIES)
            ids.append(sourced_id)
            blobs.append(_dumps(record))
        return Collection("demographics", ids, blobs)


class _Generator:
    """Build the district's records in sourcedId order."""

    def __init__(self, district: District, users: int, seed: int) -> None:
        self.d = district
        self.rng = random.Random(seed)
        self.users = users
        self.n_schools = max(2, round(users / 2500))
        self.users_json: list[bytes] = []
        self.user_ids: list[str] = []
        self.roles: dict[str, list[int]] = {"student": [], "teacher": []}  # user positions
        self.courses: list[bytes] = []
        self.course_ids: list[str] = []
        self.classes: list[bytes] = []
        self.class_ids: list[str] = []
        self.rosters: list[tuple[str, str, str, list[str]]] = []  # class, school, teacher, pupils

    def modified(self) -> str:
        return time.strftime("%Y-%m-%dT%H:%M:%S.000Z",
                             time.gmtime(EPOCH + self.rng.randrange(120 * 86400)))

    def status(self) -> str:
        return "tobedeleted" if self.rng.random() < DELETED_SHARE else "active"

    def run(self) -> None:
        admins = self.n_schools + 1
        rest = self.users - admins
        teachers = max(self.n_schools, round(rest * 0.045))
        students = rest - teachers
        schools = self._orgs()
        self._sessions()
        per_school_students = _split(students, self.n_schools)
        per_school_teachers = _split(teachers, self.n_schools)
        self._user("districtAdministrator", ref("org", "orgs", "org-0001"), None)
        for s, (school_id, level) in enumerate(schools):
            school = ref("org", "orgs", school_id)
            self._user("principal", school, None)
            staff = [self._user("teacher", school, None) for _ in range(per_school_teachers[s])]
            _, grades, subjects = names.LEVELS[level]
            for g, count in zip(grades, _split(per_school_students[s], len(grades)),
                                strict=True):
                cohort = [self._user("student", school, g) for _ in range(count)]
                for k, subject in enumerate(subjects):
                    self._course(school_id, school, staff, g, k, subject, cohort)
        d = self.d
        d.collections["users"] = Collection("users", self.user_ids, self.users_json)
        d.collections["courses"] = Collection("courses", self.course_ids, self.courses)
        d.collections["classes"] = Collection("classes", self.class_ids, self.classes)
        d.collections["enrollments"] = self._enrollments(self.rosters)
        d.subsets["students"] = ("users", self.roles["student"])
        d.subsets["teachers"] = ("users", self.roles["teacher"])

    def _user(self, role: str, org: dict, grade: str | None) -> str:
        """Make one user; return its sourcedId."""
        rng, number = self.rng, len(self.user_ids) + 1
        sourced_id = f"usr-{number:07d}"
        given, family = rng.choice(names.GIVEN_NAMES), rng.choice(names.FAMILY_NAMES)
        username = f"{_ascii(given)}.{_ascii(family)}{number}"
        modified = self.modified()
        record = {
            "sourcedId": sourced_id, "status": self.status(), "dateLastModified": modified,
            "username": username, "userIds": [{"type": "SIS", "identifier": f"{99999 + number}"}],
            "enabledUser": "true", "givenName": given, "familyName": family,
            "middleName": rng.choice(names.MIDDLE_INITIALS),
            "roles": [{"roleType": "primary", "role": role, "org": org}],
            "primaryOrg": org, "identifier": f"{99999 + number}",
            "email": f"{username}@{names.DOMAIN}",
        }
        if grade is not None:
            record["grades"] = [grade]
        if role in self.roles:
            self.roles[role].append(number - 1)
        self.user_ids.append(sourced_id)
        self.users_json.append(_dumps(record))
        self.d._people.append((sourced_id, grade, modified))
        return sourced_id

    def _course(self, school_id: str, school: dict, staff: list[str], g: str, k: int,
                subject: tuple[str, str], cohort: list[str]) -> None:
        """Make the course of one subject for one grade, and its classes (sections)."""
        subject_name, code = subject
        course_id = f"crs-{len(self.course_ids) + 1:05d}"
        title = f"{subject_name} {'Kindergarten' if g == 'KG' else 'Grade ' + str(int(g))}"
        self.course_ids.append(course_id)
        self.courses.append(_dumps({
            "sourcedId": course_id, "status": "active",
            "dateLastModified": self.modified(), "title": title,
            "schoolYear": ref("academicSession", "academicSessions", "as-0001"),
            "courseCode": f"{code}-{g}", "grades": [g], "subjects": [subject_name],
            "org": school, "subjectCodes": [names.SUBJECT_CODES[code]],
        }))
        sections = max(1, math.ceil(len(cohort) / CLASS_SIZE))
        members: list[list[str]] = [[] for _ in range(sections)]
        for j, student in enumerate(cohort):
            members[(j + k) % sections].append(student)
        for n, roster in enumerate(members):
            class_id = f"cls-{len(self.class_ids) + 1:06d}"
            teacher = staff[len(self.class_ids) % len(staff)]
            self.class_ids.append(class_id)
            self.classes.append(_dumps({
                "sourcedId": class_id, "status": "active", "dateLastModified": self.modified(),
                "title": f"{title}, section {n + 1}", "classCode": f"{code}-{g}-{n + 1:02d}",
                "classType": "scheduled", "location": f"Room {100 + (len(self.class_ids) % 60)}",
                "grades": [g], "subjects": [subject_name],
                "course": ref("course", "courses", course_id), "school": school,
                "terms": [ref("academicSession", "academicSessions", "as-0002"),
                          ref("academicSession", "academicSessions", "as-0003")],
                "periods": [str(k + 1)],
            }))
            self.rosters.append((class_id, school_id, teacher, roster))

    def _orgs(self) -> list[tuple[str, int]]:
        """Make the district and its schools; return (school id, level) pairs."""
        places = list(names.PLACES)
        self.rng.shuffle(places)
        schools = [(f"org-{i + 2:04d}", i % len(names.LEVELS)) for i in range(self.n_schools)]
        records = [{
            "sourcedId": "org-0001", "status": "active", "dateLastModified": self.modified(),
            "name": names.DISTRICT_NAME, "type": "district", "identifier": "DIST-0001",
            "children": [ref("org", "orgs", sid) for sid, _ in schools],
        }]
        for i, (sid, level) in enumerate(schools):
            place = places[i % len(places)]
            suffix = f" {i // len(places) + 1}" if i >= len(places) else ""
            records.append({
                "sourcedId": sid, "status": "active", "dateLastModified": self.modified(),
                "name": f"{place}{suffix} {names.LEVELS[level][0]} School", "type": "school",
                "identifier": f"SCH-{i + 1:04d}", "parent": ref("org", "orgs", "org-0001"),
            })
        self.d.collections["orgs"] = Collection(
            "orgs", [r["sourcedId"] for r in records], [_dumps(r) for r in records])
        self.d.subsets["schools"] = ("orgs", list(range(1, len(records))))
        return schools

    def _sessions(self) -> None:
        year = ref("academicSession", "academicSessions", "as-0001")
        rows = [("as-0001", "School Year 2025-2026", YEAR_START, YEAR_END, "schoolYear", None)]
        rows += [("as-0002", "Fall Semester", YEAR_START, "2026-01-16", "term", year),
                 ("as-0003", "Spring Semester", "2026-01-20", YEAR_END, "term", year)]
        fall = ref("academicSession", "academicSessions", "as-0002")
        spring = ref("academicSession", "academicSessions", "as-0003")
        rows += [("as-0004", "Quarter 1", YEAR_START, "2025-10-31", "gradingPeriod", fall),
                 ("as-0005", "Quarter 2", "2025-11-03", "2026-01-16", "gradingPeriod", fall),
                 ("as-0006", "Quarter 3", "2026-01-20", "2026-03-27", "gradingPeriod", spring),
                 ("as-0007", "Quarter 4", "2026-03-30", YEAR_END, "gradingPeriod", spring)]
        children = {"as-0001": ["as-0002", "as-0003"], "as-0002": ["as-0004", "as-0005"],
                    "as-0003": ["as-0006", "as-0007"]}
        records = []
        for sid, title, start, end, kind, parent in rows:
            record = {"sourcedId": sid, "status": "active", "dateLastModified": self.modified(),
                      "title": title, "startDate": start, "endDate": end, "type": kind,
                      "schoolYear": SCHOOL_YEAR}
            if parent is not None:
                record["parent"] = parent
            if sid in children:
                record["children"] = [ref("academicSession", "academicSessions", c)
                                      for c in children[sid]]
            records.append(record)
        self.d.collections["academicSessions"] = Collection(
            "academicSessions", [r["sourcedId"] for r in records], [_dumps(r) for r in records])
        self.d.subsets["terms"] = ("academicSessions", [1, 2])
        self.d.subsets["gradingPeriods"] = ("academicSessions", [3, 4, 5, 6])

    def _enrollments(self, rosters: list[tuple[str, str, str, list[str]]]) -> Collection:
        """Write enrollments straight to JSON: there are many, and their shape is fixed."""
        template = (
            '{{"sourcedId":"{sid}","status":"{status}","dateLastModified":"{modified}",'
            '"user":{{"href":"' + BASE + '/users/{user}","sourcedId":"{user}","type":"user"}},'
            '"class":{{"href":"' + BASE + '/classes/{cls}","sourcedId":"{cls}",'
            '"type":"class"}},"school":{{"href":"' + BASE + '/orgs/{school}",'
            '"sourcedId":"{school}","type":"org"}},"role":"{role}","primary":"{primary}",'
            '"beginDate":"' + YEAR_START + '","endDate":"' + YEAR_END + '"}}'
        ).format
        ids: list[str] = []
        blobs: list[bytes] = []
        status: Callable[[], str] = self.status
        for class_id, school_id, teacher, students in rosters:
            for user, role in ((teacher, "teacher"), *((s, "student") for s in students)):
                sid = f"enr-{len(ids) + 1:08d}"
                ids.append(sid)
                blobs.append(template(
                    sid=sid, status=status(), modified=self.modified(), user=user, cls=class_id,
                    school=school_id, role=role,
                    primary="true" if role == "teacher" else "false").encode())
        return Collection("enrollments", ids, blobs)


def _split(total: int, parts: int) -> list[int]:
    """Split a number into near-equal parts."""
    base, extra = divmod(max(0, total), parts)
    return [base + (1 if i < extra else 0) for i in range(parts)]
