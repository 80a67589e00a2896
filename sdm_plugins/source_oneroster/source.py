"""source-oneroster: the product page's OneRoster API source, over a saved connection.

HTTP (auth, paging, retries) stays in the client; this class only turns a flow node's
configuration into client settings (through the connection service, which audits the
decryption of the secret) and maps the plugin contract onto the client.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from flask import current_app
from sqlalchemy import select

from oneroster.client import OneRosterClient
from oneroster.model import (
    ClientSettings,
    FetchResult,
    OneRosterError,
    ProgressCallback,
    Record,
    Sink,
)
from webapp.plugin_api import (
    CheckResult,
    Field,
    PreflightResult,
    Sample,
    SchoolFilter,
    SourcePlugin,
    SourceUnavailable,
)


class OneRosterSource(SourcePlugin):
    """Read the five rostering collections from a OneRoster 1.2 (or 1.1) REST API."""

    id = "source-oneroster"
    name = "OneRoster API"
    description = "Connect to OneRoster REST APIs for live data synchronization"
    uses_connection = True
    fields = (
        Field("connection_id", "Connection", "connection", required=True,
              help="A saved connection of your organization, or create a new one."),
    )

    def connection(self) -> Any:
        """Return the node's saved connection; SourceUnavailable when it was deleted."""
        from webapp.extensions import db
        from webapp.models import Connection

        connection = db.session.scalar(select(Connection).where(
            Connection.id == self.config.get("connection_id"),
            Connection.organization_id == self.organization_id))
        if connection is None:
            raise SourceUnavailable(
                "Connection missing",
                "The saved connection this source used was deleted.",
                ("Edit the flow and choose another connection for this source.",))
        return connection

    def settings(self, reason: str, time_budget: float | None = None) -> ClientSettings:
        """Return client settings for the connection (decrypting its secret, audited)."""
        from webapp.connections.services import client_settings

        return client_settings(self.connection(), reason=reason, time_budget=time_budget)

    def check(self) -> CheckResult:
        from oneroster.check import run_check

        budget = current_app.config["TEST_BUDGET_S"]
        result = run_check(self.settings("connection check", budget), budget=budget)
        if result.get("state") == "success":
            return CheckResult(True, "The token and all five collections are readable.")
        error = result.get("error") or {}
        return CheckResult(False, error.get("message") or "The connection test failed.")

    def preflight(self, report: Any = None, cancel: Any = None) -> PreflightResult:
        from oneroster.preflight import run_preflight

        budget = current_app.config["TEST_BUDGET_S"]
        result = run_preflight(self.settings("pre-flight check", budget),
                               entities=self.selected, budget=budget, report=report,
                               cancel=cancel)
        return to_plugin_result(result)

    def sample(self, entities: Sequence[str], limit: int = 5) -> dict[str, Sample]:
        settings = self.settings("flow preview", current_app.config["TEST_BUDGET_S"])
        schools = self.config.get("schools") or []
        with OneRosterClient(settings) as client, \
                ThreadPoolExecutor(max_workers=max(1, len(entities))) as pool:
            # A school filter needs more than a first page to find matching rows.
            size = limit if not schools else max(limit, settings.page_size)
            pages = {e: pool.submit(client.get_page, e, 0, size) for e in entities}
            keep = SchoolFilter(schools, _district_of(pages, schools)) if schools else None
            samples = {}
            for entity, future in pages.items():
                try:
                    page = future.result()
                except OneRosterError as error:
                    samples[entity] = Sample(entity, error=error)
                    continue
                records = [r for r in page.records if keep is None or keep.keeps(r)]
                shown = tuple(records[:limit])
                total = page.total if keep is None else None
                more = len(records) > limit or (total is None and page.next_url is not None)
                samples[entity] = Sample(entity, shown, total=total, more=more)
        return samples

    def read(self, entities: Sequence[str], *, sink: Sink,
             progress: ProgressCallback | None = None,
             cancel: threading.Event | None = None,
             since: str | None = None) -> FetchResult:
        schools = list(self.config.get("schools") or [])
        with OneRosterClient(self.settings("flow run")) as client:
            if not schools:
                return client.fetch(entities, sink=sink, progress=progress, cancel=cancel,
                                    since=since)
            return _read_schools(client, tuple(entities), schools, sink, progress, cancel,
                                 since)


def to_plugin_result(result: dict[str, Any]) -> PreflightResult:
    """Return a pre-flight result in the shape of the source plugin contract."""
    return PreflightResult(ok=result["ok"], errors=tuple(result["errors"]),
                           totals=dict(result["totals"]), details=result)


def _district_of(pages: dict[str, Any], schools: Sequence[str]) -> set[str]:
    """Return the parents of the chosen schools among the first page of orgs, if read."""
    future = pages.get("orgs")
    try:
        orgs = future.result().records if future is not None else []
    except OneRosterError:
        orgs = []
    return SchoolFilter.ancestors(orgs, schools)


def _read_schools(client: OneRosterClient, entities: tuple[str, ...], schools: list[str],
                  sink: Sink, progress: ProgressCallback | None,
                  cancel: threading.Event | None, since: str | None) -> FetchResult:
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
        return FetchResult({**({"orgs": read} if "orgs" in entities else {}), **failed})
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
                                    since=since).results)
    return FetchResult(results)
