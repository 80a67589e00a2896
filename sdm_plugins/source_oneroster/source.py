"""source-oneroster: the product page's OneRoster API source, over a saved connection.

A thin adapter from the plugin contract to the OneRoster library (oneroster/): the host hands
over the connection's details (the secret decrypted), a cancel token and a report; this module
turns them into client settings, maps the library's errors, progress and results onto the
contract's types, and passes the library's records through as they are (they satisfy the
contract's record shape).
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

from oneroster.check import initial_steps, run_check
from oneroster.client import OneRosterClient
from oneroster.egress import DEFAULT_HINTS, EgressPolicy
from oneroster.model import ClientSettings, EntityProgress, OneRosterError, Record
from oneroster.model import EntityResult as LibraryEntityResult
from oneroster.model import FetchResult as LibraryFetchResult
from oneroster.parallel import REFUSALS
from oneroster.preflight import run_preflight
from oneroster.required_fields import sample_gaps
from webapp.plugin_api import (
    ENTITIES,
    ENTITY_CHOICES,
    ENTITY_LABELS,
    SOURCE_OPTIONS,
    CancelToken,
    Checklist,
    ConnectionDetails,
    EgressRules,
    EntityResult,
    ErrorCategory,
    FetchResult,
    Field,
    PreflightReport,
    Progress,
    ProgressCallback,
    Report,
    Sample,
    SchoolFilter,
    Sink,
    SourceConfig,
    SourceError,
    SourcePlugin,
    SourceUnavailable,
)

# Read whatever collections a flow chooses: classes and courses refer to academic sessions,
# and a bundle names no id it does not hold.
ALWAYS = ("academicSessions",)
# Read when chosen and when the SIS grants them; a refusal is a fact to report, not a failure.
OPTIONAL = ("demographics",)
ENTITIES_FIELD = Field(
    "entities", "Collections", "multichoice", default=list(ENTITIES), required=True,
    choices=(*((e, label) for e, label in ENTITY_CHOICES),
             ("demographics", "Demographics (optional: read when the SIS grants them)")),
    help="Academic sessions (school years, terms) are always read: classes and courses "
         "refer to them.")


class OneRosterSource(SourcePlugin):
    """Read the rostering collections from a OneRoster 1.2 (or 1.1) REST API."""

    id = "source-oneroster"
    name = "OneRoster API"
    description = "Connect to OneRoster REST APIs for live data synchronization"
    uses_connection = True
    fields = (
        Field("connection_id", "Connection", "connection", required=True,
              help="A saved connection of your organization, or create a new one."),
    )
    check_steps = tuple((step.id, step.label) for step in initial_steps())
    entities = ("orgs", "academicSessions", "courses", "classes", "users", "enrollments",
                "demographics")
    options = (ENTITIES_FIELD, *(f for f in SOURCE_OPTIONS if f.name != "entities"))

    @classmethod
    def chosen(cls, options: Mapping[str, Any]) -> tuple[str, ...]:
        """Return the chosen collections and academic sessions, in the plugin's order."""
        wanted = {*(options.get("entities") or ENTITIES), *ALWAYS}
        return tuple(e for e in cls.entities if e in wanted)

    @classmethod
    def check(cls, config: SourceConfig, report: Report, cancel: CancelToken) -> Checklist:
        settings = client_settings(_details(config.connection), config.budget_s)
        with library_errors():
            result = run_check(settings, budget=config.budget_s, report=_checklist(report),
                               cancel=cancel)
        return Checklist.from_json(result)

    @classmethod
    def preflight(cls, config: SourceConfig, report: Report,
                  cancel: CancelToken) -> PreflightReport:
        settings = client_settings(_details(config.connection), config.budget_s)
        with library_errors():
            result = run_preflight(settings, entities=cls.chosen(config.options),
                                   budget=config.budget_s, report=_checklist(report),
                                   cancel=cancel)
        return PreflightReport.from_json(result)

    @classmethod
    def address_problem(cls, url: str, egress: EgressRules) -> str | None:
        return egress_policy(egress).problem(url)

    def settings(self, time_budget: float | None = None) -> ClientSettings:
        """Return the client settings of the connection the host handed over."""
        return client_settings(_details(self.connection), time_budget)

    def sample(self, entities: Sequence[str], limit: int = 5) -> dict[str, Sample]:
        settings = self.settings(self.connection.time_budget if self.connection else None)
        schools = self.config.get("schools") or []
        with library_errors(), OneRosterClient(settings) as client, \
                ThreadPoolExecutor(max_workers=max(1, len(entities))) as pool:
            # A school filter needs more than a first page to find matching rows.
            size = limit if not schools else max(limit, settings.page_size)
            pages = {e: pool.submit(client.get_page, e, 0, size) for e in entities}
            keep = SchoolFilter(schools, _district_of(pages, schools)) if schools else None
            return {entity: _sample(entity, future, keep, limit)
                    for entity, future in pages.items()}

    def read(self, entities: Sequence[str], *, sink: Sink,
             progress: ProgressCallback | None = None,
             cancel: CancelToken | None = None,
             since: str | None = None) -> FetchResult:
        schools = list(self.config.get("schools") or [])
        told = _progress(progress)
        with library_errors(), OneRosterClient(self.settings()) as client:
            if not schools:
                found = client.fetch(entities, sink=sink, progress=told, cancel=cancel,
                                     since=since, optional=OPTIONAL)
            else:
                found = _read_schools(client, tuple(entities), schools, sink, told, cancel,
                                      since)
        return fetch_result(found)


def client_settings(details: ConnectionDetails, time_budget: float | None = None,
                    ) -> ClientSettings:
    """Return the library's settings for the connection details the host handed over."""
    return ClientSettings(
        base_url=details.base_url, client_id=details.client_id,
        client_secret=details.client_secret, auth_url=details.auth_url,
        auth_method=str(details.auth_method), signature_method=details.signature_method,
        scopes=tuple(details.scopes),
        version=details.version, proxy_country=details.proxy_country,
        proxies=dict(details.proxies), page_size=details.page_size,
        max_in_flight=details.max_in_flight, decode_processes=details.decode_processes,
        time_budget=time_budget if time_budget is not None else details.time_budget,
        egress=egress_policy(details.egress))


def egress_policy(rules: EgressRules) -> EgressPolicy:
    """Return the library's egress policy for the host's rules."""
    return EgressPolicy(allow_private=rules.allow_private, allow_loopback=rules.allow_loopback,
                        hints={**DEFAULT_HINTS, **dict(rules.hints)}, resolver=rules.resolver)


def _details(connection: ConnectionDetails | None) -> ConnectionDetails:
    if connection is None:
        raise SourceUnavailable(
            "Connection missing", "The saved connection this source used was deleted.",
            ("Edit the flow and choose another connection for this source.",))
    return connection


def source_error(error: OneRosterError) -> SourceError:
    """Return the contract's error for a library error: same category, words and details.

    A category the contract does not know (a newer library) travels as an invalid response,
    with the library's own title and advice.
    """
    known = {c.value for c in ErrorCategory}
    category = error.category.value if error.category.value in known \
        else ErrorCategory.INVALID_RESPONSE
    return SourceError(category, error.message, title=error.title,
                       advice=error.advice, entity=error.entity, status=error.status,
                       server_message=error.server_message, url=error.url,
                       missing_scope=error.missing_scope)


@contextmanager
def library_errors() -> Iterator[None]:
    """Raise the library's errors as the contract's."""
    try:
        yield
    except OneRosterError as error:
        raise source_error(error) from error


def fetch_result(found: LibraryFetchResult) -> FetchResult:
    """Return the contract's result of a read: a few objects per collection, no records."""
    return FetchResult({entity: _entity_result(r) for entity, r in found.results.items()})


def _entity_result(r: LibraryEntityResult) -> EntityResult:
    return EntityResult(r.entity, r.ok, r.records, r.pages, r.duplicates, r.elapsed_s,
                        r.total, source_error(r.error) if r.error else None, r.requests,
                        tuple(r.warnings), r.withheld)


def _progress(progress: ProgressCallback | None) -> Callable[[EntityProgress], None] | None:
    """Pass the library's progress (once per page, not per record) on in the contract's type."""
    if progress is None:
        return None

    def tell(p: EntityProgress) -> None:
        progress(Progress(p.entity, p.state, p.fetched, p.total, p.pages, p.retries,
                          p.waiting_s, source_error(p.error) if p.error else None,
                          p.requests))
    return tell


def _checklist(report: Report) -> Callable[[dict[str, Any]], None]:
    """Hand each snapshot of the library's checklist to the host's report, typed."""
    return lambda snapshot: report(Checklist.from_json(snapshot))


def _sample(entity: str, future: Any, keep: SchoolFilter | None, limit: int) -> Sample:
    try:
        page = future.result()
    except OneRosterError as error:
        if entity in OPTIONAL and error.category in REFUSALS:
            return Sample(entity, warnings=(
                f"Not granted: the SIS answered HTTP {error.status}; runs will go without "
                f"{ENTITY_LABELS[entity].lower()}.",))
        return Sample(entity, error=source_error(error))
    records = [r for r in page.records if keep is None or keep.keeps(r)]
    shown = tuple(records[:limit])
    total = page.total if keep is None else None
    more = len(records) > limit or (total is None and page.next_url is not None)
    return Sample(entity, shown, total=total, more=more,
                  warnings=tuple(sample_gaps(entity, [r.data for r in shown])))


def _district_of(pages: dict[str, Any], schools: Sequence[str]) -> set[str]:
    """Return the parents of the chosen schools among the first page of orgs, if read."""
    future = pages.get("orgs")
    try:
        orgs = future.result().records if future is not None else []
    except OneRosterError:
        orgs = []
    return SchoolFilter.ancestors(orgs, schools)


def _read_schools(client: OneRosterClient, entities: tuple[str, ...], schools: list[str],
                  sink: Sink, progress: Callable[[EntityProgress], None] | None,
                  cancel: CancelToken | None, since: str | None) -> LibraryFetchResult:
    """Read the orgs first (to know the schools' district), then the rest, filtered."""
    orgs: list[Record] = []
    lock = threading.Lock()

    def collect(_entity: str, records: list[Record]) -> None:
        with lock:
            orgs.extend(records)

    first = client.fetch(("orgs",), sink=collect,
                         progress=progress if "orgs" in entities else None, cancel=cancel)
    read = first.results["orgs"]
    rest = tuple(e for e in entities if e != "orgs")
    if not read.ok:
        failed = {e: dataclasses.replace(read, entity=e, records=0, pages=0, total=None)
                  for e in rest}
        return LibraryFetchResult({**({"orgs": read} if "orgs" in entities else {}),
                                   **failed})
    keep = SchoolFilter(schools, SchoolFilter.ancestors(orgs, schools))
    results = {}
    if "orgs" in entities:
        kept = [r for r in orgs if keep.keeps(r)
                and (since is None or (r.date_last_modified or "") > since)]
        if kept:
            sink("orgs", kept)
        results["orgs"] = dataclasses.replace(read, records=len(kept), total=len(kept))

    def filtered(entity: str, records: list[Record]) -> None:
        chosen = [r for r in records if keep.keeps(r)]
        if chosen:
            sink(entity, chosen)

    if rest:
        results.update(client.fetch(rest, sink=filtered, progress=progress, cancel=cancel,
                                    since=since, optional=OPTIONAL).results)
    return LibraryFetchResult(results)
