"""The OneRoster client: one connection's token, single pages, and the parallel fetch."""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from typing import Any

import orjson

from oneroster.auth import OAuth2Credentials, make_credentials
from oneroster.errors import (
    classify_status,
    label,
    looks_like_html,
    not_oneroster,
    safe_url,
    scrub_error,
    with_entity,
)
from oneroster.http import Answer, Observer, RetryableBody, Transport
from oneroster.model import (
    ENTITIES,
    Category,
    ClientSettings,
    FetchResult,
    OneRosterError,
    Page,
    ProgressCallback,
    Record,
    Sink,
    TokenInfo,
)
from oneroster.normalize import DATA_TYPE, normalize_page, page_rows
from oneroster.paging import Slice, parse_link, parse_total
from oneroster.parallel import ParallelFetch

__all__ = ["OneRosterClient", "Page", "TokenInfo", "OneRosterError", "entity_url"]


def signature_hint(error: OneRosterError, settings: ClientSettings,
                   body: bytes) -> OneRosterError:
    """Suggest the other OAuth 1.0a signature method when the server refuses a signature."""
    if settings.auth_method != "oauth1" or error.status != 401 \
            or b"signature" not in body[:2000].lower():
        return error
    other = "HMAC-SHA1" if settings.signature_method.upper() != "HMAC-SHA1" else "HMAC-SHA256"
    error.message += (f". The server refused the {settings.signature_method} signature: if it "
                      f"accepts only {other}, choose {other} as the signature method")
    return error


def entity_url(base_url: str, entity: str) -> str:
    """Return the URL of a collection under a Base URL."""
    return base_url.rstrip("/") + "/" + entity


class OneRosterClient:
    """Talk to one OneRoster server: token, pages, and the parallel fetch of collections."""

    def __init__(self, settings: ClientSettings) -> None:
        self.settings = settings
        self.transport = Transport(settings)
        self.credentials = make_credentials(settings, self.transport)

    def __enter__(self) -> OneRosterClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Release the connection pool."""
        self.transport.close()

    def token(self) -> TokenInfo:
        """Return the current credential's details, obtaining a token when the method has one."""
        self.transport.check_proxy()
        return self.credentials.token()

    def get_page(self, entity: str, offset: int = 0, limit: int | None = None,
                 params: Mapping[str, Any] | None = None) -> Page:
        """Fetch one page of a collection: `limit` rows from `offset`, with extra query params."""
        query = {"limit": limit or self.settings.page_size, "offset": offset, **(params or {})}
        page, _ = self.read_page(entity, Slice(offset, query["limit"]), query)
        return page

    def fetch(self, entities: Iterable[str] = ENTITIES, *, sink: Sink,
              progress: ProgressCallback | None = None, cancel: threading.Event | None = None,
              since: str | None = None, optional: Iterable[str] = ()) -> FetchResult:
        """Fetch whole collections in parallel, handing records to `sink` page by page.

        One failing collection does not stop the others: each one's outcome, error included,
        is in the result. `since` asks only for records changed after that timestamp
        (tobedeleted ones included). The time budget runs afresh from the start of a fetch.
        An `optional` collection the server does not grant ends without an error, its result
        saying why (``withheld``).
        """
        return ParallelFetch(self, tuple(entities), sink, progress, cancel, since,
                             frozenset(optional)).run()

    def token_notes(self) -> tuple[str | None, list[str]]:
        """Return where the last token came from and what finding its endpoint took."""
        credentials = self.credentials
        if isinstance(credentials, OAuth2Credentials):
            return credentials.used_url, list(credentials.notes)
        return None, []

    def granted_scopes(self) -> tuple[str, ...] | None:
        """Return the scopes the current token carries, when known."""
        credentials = self.credentials
        if isinstance(credentials, OAuth2Credentials) and credentials.info is not None:
            return credentials.info.scopes
        return None

    def read_page(self, entity: str, page: Slice, query: Mapping[str, Any] | None, *,
                  cancel: threading.Event | None = None,
                  observer: Observer | None = None) -> tuple[Page, dict[str, str]]:
        """Fetch one page (by offset, or a next URL) and return it with its Link URLs."""
        answer = self.request_page(entity, page, query, cancel=cancel, observer=observer)
        return self.page_of(entity, page, query, answer, cancel=cancel, observer=observer)

    def request_page(self, entity: str, page: Slice, query: Mapping[str, Any] | None, *,
                     cancel: threading.Event | None = None,
                     observer: Observer | None = None) -> Answer:
        """Ask for one page and return the server's 2xx answer, its body read, not parsed."""
        if entity not in DATA_TYPE:
            raise ValueError(f"Unknown OneRoster collection {entity!r}")
        try:
            answer, _ = self._get(entity, page, query, cancel=cancel, observer=observer)
            self._check_status(entity, answer)
        except OneRosterError as error:
            raise self._named(error, entity) from None
        return answer

    def page_of(self, entity: str, page: Slice, query: Mapping[str, Any] | None,
                answer: Answer, *, cancel: threading.Event | None = None,
                observer: Observer | None = None,
                records: list[Record] | None = None) -> tuple[Page, dict[str, str]]:
        """Read the records of a page's answer; an answer cut short is asked for again.

        `records` are the answer's, decoded already (oneroster/decoding.py).
        """
        if records is None:
            records, answer = self._records(entity, page, query, answer, cancel, observer)
        links = parse_link(answer.headers.get("Link"), answer.url)
        result = Page(records=records, status=answer.status, total=parse_total(answer.headers),
                      next_url=links.get("next"), has_link="Link" in answer.headers,
                      elapsed_s=answer.elapsed_s, url=safe_url(answer.url) or "")
        return result, links

    def _records(self, entity: str, page: Slice, query: Mapping[str, Any] | None,
                 answer: Answer, cancel: threading.Event | None,
                 observer: Observer | None) -> tuple[list[Record], Answer]:
        try:
            try:
                rows = self._rows(entity, answer)
            except RetryableBody as problem:
                answer, rows = self._get(entity, page, query, cancel=cancel, observer=observer,
                                         parse=lambda again: self._rows(entity, again),
                                         retry_of=problem)
                self._check_status(entity, answer)
            return normalize_page(entity, rows), answer
        except OneRosterError as error:
            raise self._named(error, entity) from None

    def _get(self, entity: str, page: Slice, query: Mapping[str, Any] | None, *,
             cancel: threading.Event | None, observer: Observer | None,
             **options: Any) -> tuple[Answer, Any]:
        """Send the GET of one page: its next URL as given, or the collection with `query`."""
        return self.transport.send(
            "GET", page.url or entity_url(self.settings.base_url, entity),
            params=None if page.url else query, credentials=self.credentials, entity=entity,
            cancel=cancel, observer=observer, **options)

    def _check_status(self, entity: str, answer: Answer) -> None:
        if not 200 <= answer.status < 300:
            error = classify_status(
                answer.status, answer.body, answer.content_type, url=answer.url,
                entity=entity, base_url=self.settings.base_url, version=self.settings.version,
                granted=self.granted_scopes(), after_refresh=answer.refreshed)
            raise signature_hint(error, self.settings, answer.body)

    def _named(self, error: OneRosterError, entity: str) -> OneRosterError:
        """Return the error naming its collection, without secrets."""
        if error.entity is None and error.category != Category.CANCELLED:
            error = with_entity(error, entity)
        return scrub_error(error, self.transport.secrets)

    def _rows(self, entity: str, answer: Answer) -> list:
        """Return the records of a 2xx answer, or say why it is not a OneRoster collection."""
        body = answer.body
        if looks_like_html(answer.content_type, body):
            raise not_oneroster(self.settings.base_url, self.settings.version,
                                f"the server answered {label(entity)} with a web page, not JSON",
                                entity=entity, status=answer.status, url=safe_url(answer.url))
        try:
            payload = orjson.loads(body)
        except ValueError:
            raise RetryableBody(OneRosterError(
                Category.INVALID_RESPONSE,
                f"The server's answer for {label(entity)} is not valid JSON (it may have been "
                "cut short)", entity=entity, status=answer.status,
                url=safe_url(answer.url))) from None
        rows = page_rows(entity, payload)
        if rows is None:
            raise not_oneroster(self.settings.base_url, self.settings.version,
                                f"the answer for {label(entity)} has no "
                                f"{DATA_TYPE[entity]!r} list",
                                entity=entity, status=answer.status, url=safe_url(answer.url))
        return rows
