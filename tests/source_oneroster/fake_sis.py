"""A OneRoster server faked with `responses`: collections with the paging quirks of real ones."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlencode, urlsplit

import responses

from oneroster.model import ClientSettings

BASE = "https://sis.example.org/ims/oneroster/rostering/v1p2"
TOKEN_URL = "https://sis.example.org/oauth/token"
SECRET = "s3cr3t-Value-never-shown-42"
TOKEN = "access-token-AAAA-0001"


def settings(**changes) -> ClientSettings:
    """Client settings for the fake server, with retries fast enough for tests."""
    values = {"base_url": BASE, "client_id": "sdm-client", "client_secret": SECRET,
              "auth_url": TOKEN_URL, "page_size": 100, "max_in_flight": 4,
              "backoff_base": 0.001, "backoff_max": 0.01, "max_retries": 3}
    values.update(changes)
    return ClientSettings(**values)


def rows(entity: str, n: int, start: int = 0) -> list[dict]:
    """Return n conforming 1.2 records of a collection."""
    out = []
    for i in range(start, start + n):
        record = {"sourcedId": f"{entity[:3]}-{i:05d}", "status": "active",
                  "dateLastModified": "2026-01-02T03:04:05Z"}
        if entity == "users":
            record.update(enabledUser="true", givenName="Ada", familyName=f"L{i}", roles=[
                {"roleType": "primary", "role": "student",
                 "org": {"href": f"{BASE}/orgs/o1", "sourcedId": "o1", "type": "org"}}],
                primaryOrg={"href": f"{BASE}/orgs/o1", "sourcedId": "o1", "type": "org"})
        elif entity == "enrollments":
            record.update(role="student", primary="false",
                          user={"href": f"{BASE}/users/u{i}", "sourcedId": f"u{i}",
                                "type": "user"})
        out.append(record)
    return out


def token(mock: responses.RequestsMock, *, access_token: str = TOKEN, expires_in=3600,
          scope: str | None = None, url: str = TOKEN_URL, status: int = 200,
          body: dict | None = None) -> None:
    """Answer the token endpoint once."""
    payload = body if body is not None else {
        "access_token": access_token, "token_type": "bearer", "expires_in": expires_in,
        **({"scope": scope} if scope is not None else {})}
    mock.add(responses.POST, url, json=payload, status=status)


@dataclass
class Collection:
    """One collection served by offset/limit, with a chosen set of quirks."""

    records: list[dict]
    total_header: bool = True
    link: str | None = "brackets"  # brackets | bare | None
    clamp: int | None = None
    default_limit: int = 100
    delay_s: float = 0.0
    requests: list[dict] = field(default_factory=list)
    in_flight: int = 0
    peak: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def answer(self, entity: str, request) -> tuple[int, dict, str]:
        query = {k: v[0] for k, v in parse_qs(urlsplit(request.url).query).items()}
        with self.lock:
            self.requests.append(query)
            self.in_flight += 1
            self.peak = max(self.peak, self.in_flight)
        try:
            if self.delay_s:
                time.sleep(self.delay_s)
            limit = int(query.get("limit", self.default_limit))
            if self.clamp:
                limit = min(limit, self.clamp)
            offset = int(query.get("offset", 0))
            page = self.records[offset:offset + limit]
            headers = {}
            if self.total_header:
                headers["X-Total-Count"] = str(len(self.records))
            if self.link:
                headers["Link"] = self._link(entity, query, offset, limit)
            return 200, headers, json.dumps({entity: page})
        finally:
            with self.lock:
                self.in_flight -= 1

    def _link(self, entity: str, query: dict, offset: int, limit: int) -> str:
        def at(o: int) -> str:
            return f"{BASE}/{entity}?{urlencode({**query, 'limit': limit, 'offset': o})}"
        rels = [("first", 0)]
        if offset + limit < len(self.records):
            rels.append(("next", offset + limit))
        rels.append(("last", max(0, (len(self.records) - 1) // limit * limit)))
        if self.link == "bare":
            return ", ".join(f'{at(o)}; rel="{r}"' for r, o in rels)
        return ", ".join(f'<{at(o)}>; rel="{r}"' for r, o in rels)


def serve(mock: responses.RequestsMock, entity: str, collection: Collection | list[dict],
          ) -> Collection:
    """Serve a collection at BASE/entity for every query string."""
    if not isinstance(collection, Collection):
        collection = Collection(collection)
    mock.add_callback(responses.GET, f"{BASE}/{entity}",
                      callback=lambda request: collection.answer(entity, request))
    return collection


def respond(mock: responses.RequestsMock, entity: str,
            answer: Callable[[object], tuple[int, dict, str]]) -> None:
    """Serve a collection with a callback of the test's own."""
    mock.add_callback(responses.GET, f"{BASE}/{entity}", callback=answer)


class Collect:
    """A sink that keeps what it gets, by collection."""

    def __init__(self) -> None:
        self.records: dict[str, list] = {}
        self.calls = 0
        self._lock = threading.Lock()

    def __call__(self, entity: str, records: list) -> None:
        with self._lock:
            self.calls += 1
            self.records.setdefault(entity, []).extend(records)

    def ids(self, entity: str) -> list[str]:
        return sorted(r.sourced_id for r in self.records.get(entity, []))
