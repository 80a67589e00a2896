"""Scripted stand-ins: a OneRoster client and the records it answers with; a job runner
that holds jobs until the test runs them."""

from __future__ import annotations

import time

from oneroster.model import (
    ENTITIES,
    ClientSettings,
    Page,
    Record,
    TokenInfo,
)
from webapp.jobs import SyncRunner, execute

BASE = "https://sis.example.org/ims/oneroster/rostering/v1p2"
SECRET = "s3cr3t-value-never-shown"
SCOPES = tuple(f"https://purl.imsglobal.org/spec/or/v1p2/scope/{s}"
               for s in ("roster-core.readonly", "roster.readonly",
                         "roster-demographics.readonly"))

GOOD = {
    "orgs": {"sourcedId": "o1", "status": "active", "dateLastModified": "2026-01-01T00:00:00Z",
             "name": "Springfield", "type": "district", "identifier": "SPR"},
    "courses": {"sourcedId": "c1", "status": "active", "dateLastModified": "2026-01-01",
                "title": "Algebra", "courseCode": "ALG1"},
    "classes": {"sourcedId": "k1", "status": "active", "dateLastModified": "2026-01-01",
                "title": "Algebra 1A", "course": {"sourcedId": "c1"},
                "school": {"sourcedId": "o2"}, "terms": [{"sourcedId": "t1"}]},
    "users": {"sourcedId": "u1", "status": "active", "dateLastModified": "2026-01-01",
              "enabledUser": "true", "givenName": "Lisa", "familyName": "Simpson",
              "roles": [{"roleType": "primary", "role": "student", "org": {"sourcedId": "o2"}}]},
    "enrollments": {"sourcedId": "e1", "status": "active", "dateLastModified": "2026-01-01",
                    "user": {"sourcedId": "u1"}, "class": {"sourcedId": "k1"},
                    "school": {"sourcedId": "o2"}, "role": "student"},
}


def settings(**changes) -> ClientSettings:
    values = {"base_url": BASE, "client_id": "district-app", "client_secret": SECRET,
              "auth_url": "https://sis.example.org/oauth/token", "page_size": 1000}
    values.update(changes)
    return ClientSettings(**values)


def records(entity: str, n: int, *, drop: tuple[str, ...] = ()) -> list[Record]:
    out = []
    for i in range(n):
        raw = {k: v for k, v in GOOD[entity].items() if k not in drop}
        raw["sourcedId"] = f"{entity}-{i}"
        out.append(Record(entity, raw["sourcedId"], "active", None, raw, raw))
    return out


def page(entity: str, n: int, *, total: int | None = -1, link: bool = True,
         next_url: str | None = None, drop: tuple[str, ...] = ()) -> Page:
    return Page(records=records(entity, n, drop=drop), status=200,
                total=n if total == -1 else total, next_url=next_url, has_link=link,
                elapsed_s=0.012, url=f"{BASE}/{entity}")


class ScriptedClient:
    """A client whose answers a test writes down: values, errors, or callables."""

    def __init__(self, token=None, pages=None, second_pages=None):
        self.token_answer = token or TokenInfo(time.time() + 3600, SCOPES, "bearer")
        self.pages = {e: page(e, 3) for e in ENTITIES}
        self.pages.update(pages or {})
        self.second_pages = second_pages or {}
        self.calls: list[tuple] = []
        self.closed = False

    def token(self):
        self.calls.append(("token",))
        return self._answer(self.token_answer)

    def get_page(self, entity, offset=0, limit=None, params=None):
        self.calls.append(("page", entity, offset, limit))
        answer = self.pages[entity] if offset == 0 else self.second_pages.get(entity)
        return self._answer(answer)

    def close(self):
        self.closed = True

    @staticmethod
    def _answer(answer):
        if callable(answer):
            answer = answer()
        if isinstance(answer, Exception):
            raise answer
        return answer


class DeferredRunner(SyncRunner):
    """Keep dispatched jobs until the test runs them: lets a test see Testing."""

    def __init__(self, kinds) -> None:
        super().__init__(kinds)
        self.pending: list[str] = []

    def dispatch(self, job_id: str) -> None:
        self.pending.append(job_id)

    def run_pending(self, app) -> None:
        with app.app_context():
            while self.pending:
                execute(self.pending.pop(0))
