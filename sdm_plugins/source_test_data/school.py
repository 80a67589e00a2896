"""A generated sample school: a district, one school, courses, classes, teachers, students.

The same sizes always give the same records. Each class has one teacher (teachers take
classes in turn) and ``users_per_class`` students; students take up to four classes each, so
the school has fewer students than seats, as a real school does.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from webapp.plugin_api import Record

MODIFIED = "2025-08-01T00:00:00.000Z"
YEAR = "td-year-2025"
BASE = "/ims/oneroster/rostering/v1p2"
CLASSES_PER_STUDENT = 4

SUBJECTS = (
    ("Mathematics", "MATH"), ("English", "ENG"), ("Biology", "BIO"), ("History", "HIST"),
    ("Chemistry", "CHEM"), ("Physics", "PHYS"), ("Geography", "GEO"), ("Art", "ART"),
    ("Music", "MUS"), ("Physical Education", "PE"), ("Computer Science", "CS"),
    ("Spanish", "SPAN"),
)
GIVEN = (
    "Ada", "Ben", "Chloe", "Dawit", "Elena", "Farid", "Grace", "Hiro", "Iris", "Jonas", "Kemi",
    "Liam", "Maya", "Noah", "Olga", "Pablo", "Quinn", "Rosa", "Sami", "Tara", "Umar", "Vera",
    "Wen", "Ximena", "Yusuf", "Zofia", "Amir", "Bea", "Caleb", "Dana", "Emil", "Fatima",
)
FAMILY = (
    "Nowak", "Smith", "Garcia", "Kowalski", "Okafor", "Tanaka", "Müller", "Rossi", "Dubois",
    "Haddad", "Ivanova", "Johansson", "Khan", "Lopez", "Mensah", "Nguyen", "O'Brien", "Park",
    "Quispe", "Rahman", "Silva", "Taylor", "Uddin", "Virtanen", "Wiśniewska", "Yilmaz", "Zhou",
)


def ref(kind: str, sourced_id: str) -> dict[str, str]:
    """Return a OneRoster reference to an entity."""
    path = {"org": "orgs", "course": "courses", "class": "classes", "user": "users",
            "academicSession": "academicSessions"}[kind]
    return {"href": f"{BASE}/{path}/{sourced_id}", "sourcedId": sourced_id, "type": kind}


@dataclass(frozen=True)
class SampleSchool:
    """The sizes of a sample school and the records they produce."""

    classes: int = 10
    users_per_class: int = 25
    teachers: int = 5

    district_id = "td-district"
    school_id = "td-school"

    @property
    def courses(self) -> int:
        return min(self.classes, len(SUBJECTS))

    @property
    def students(self) -> int:
        seats = self.classes * self.users_per_class
        return max(self.users_per_class, math.ceil(seats / min(self.classes, CLASSES_PER_STUDENT)))

    def totals(self) -> dict[str, int]:
        """Return how many records each collection has."""
        return {
            "orgs": 2,
            "courses": self.courses,
            "classes": self.classes,
            "users": self.teachers + self.students,
            "enrollments": self.classes * (self.users_per_class + 1),
        }

    def records(self, entity: str) -> Iterator[Record]:
        """Yield the records of one collection, in a stable order."""
        for data in getattr(self, f"_{entity}")():
            base = {"sourcedId": data.pop("sourcedId"), "status": "active",
                    "dateLastModified": MODIFIED}
            data = {**base, **data}
            yield Record(entity, data["sourcedId"], "active", MODIFIED, data)

    def _orgs(self) -> Iterator[dict[str, Any]]:
        yield {"sourcedId": self.district_id, "name": "Sample District", "type": "district",
               "identifier": "SD-1", "children": [ref("org", self.school_id)]}
        yield {"sourcedId": self.school_id, "name": "Sample School", "type": "school",
               "identifier": "SS-1", "parent": ref("org", self.district_id)}

    def _courses(self) -> Iterator[dict[str, Any]]:
        for number in range(self.courses):
            title, code = SUBJECTS[number]
            yield {"sourcedId": f"td-course-{number + 1:03d}", "title": title,
                   "courseCode": f"{code}-10", "grades": ["10"], "subjects": [title],
                   "schoolYear": ref("academicSession", YEAR),
                   "org": ref("org", self.school_id)}

    def _classes(self) -> Iterator[dict[str, Any]]:
        for number in range(self.classes):
            course = number % self.courses
            title, code = SUBJECTS[course]
            section = number // self.courses + 1
            yield {"sourcedId": self.class_id(number), "title": f"{title} {section}",
                   "classCode": f"{code}-10-{section}", "classType": "scheduled",
                   "location": f"Room {101 + number}", "grades": ["10"], "subjects": [title],
                   "course": ref("course", f"td-course-{course + 1:03d}"),
                   "school": ref("org", self.school_id),
                   "terms": [ref("academicSession", YEAR)], "periods": [str(number % 8 + 1)]}

    def _users(self) -> Iterator[dict[str, Any]]:
        names = random.Random(f"{self.classes}/{self.users_per_class}/{self.teachers}")
        for number in range(self.teachers):
            yield self._user(f"td-teacher-{number + 1:04d}", "teacher", names, [])
        for number in range(self.students):
            yield self._user(f"td-student-{number + 1:05d}", "student", names, ["10"])

    def _user(self, sourced_id: str, role: str, names: random.Random,
              grades: list[str]) -> dict[str, Any]:
        given, family = names.choice(GIVEN), names.choice(FAMILY)
        username = f"{given}.{family}.{sourced_id.rsplit('-', 1)[1]}".lower()
        username = username.replace("'", "").replace("ü", "u").replace("ś", "s")
        return {"sourcedId": sourced_id, "enabledUser": "true", "username": username,
                "userIds": [{"type": "SIS", "identifier": sourced_id.upper()}],
                "givenName": given, "familyName": family, "middleName": "",
                "roles": [{"roleType": "primary", "role": role,
                           "org": ref("org", self.school_id)}],
                "primaryOrg": ref("org", self.school_id), "identifier": sourced_id.upper(),
                "email": f"{username}@sample-school.example", "grades": grades, "agents": []}

    def _enrollments(self) -> Iterator[dict[str, Any]]:
        for number in range(self.classes):
            common = {"class": ref("class", self.class_id(number)),
                      "school": ref("org", self.school_id),
                      "beginDate": "2025-09-01", "endDate": "2026-06-30"}
            teacher = f"td-teacher-{number % self.teachers + 1:04d}"
            yield {"sourcedId": f"td-enrollment-{number + 1:03d}-t", **common,
                   "user": ref("user", teacher), "role": "teacher", "primary": True}
            for seat in range(self.users_per_class):
                student = (number * self.users_per_class + seat) % self.students
                yield {"sourcedId": f"td-enrollment-{number + 1:03d}-{seat + 1:03d}", **common,
                       "user": ref("user", f"td-student-{student + 1:05d}"),
                       "role": "student", "primary": False}

    @staticmethod
    def class_id(number: int) -> str:
        return f"td-class-{number + 1:03d}"
