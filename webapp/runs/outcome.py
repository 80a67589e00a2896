"""How a run's collections ended, and what that makes of the run.

The engine (webapp/runs/engine.py) reads; this says, per collection, whether its read
completed, failed, was cancelled or was not granted, from the reader's outcome, and what the
run holds per collection (bulk or delta, read or withheld).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from webapp.models import CollectionState, Run, RunCollection, RunStatus
from webapp.models.common import utcnow
from webapp.plugin_api import EntityResult, ErrorCategory, FetchResult, SourceError
from webapp.runs.progress import error_dict

ORDER = ("orgs", "academicSessions", "courses", "classes", "users", "enrollments",
         "demographics")


def mark_failed(run: Run, message: str) -> None:
    """Fail a run that cannot finish and every collection still open; the caller commits."""
    run.status = RunStatus.FAILED
    run.error = message
    run.finished_at = utcnow()
    for collection in run.collections:
        if collection.state in (CollectionState.PENDING, CollectionState.RUNNING):
            collection.state = CollectionState.FAILED
            collection.error = {"category": "interrupted", "title": "Interrupted",
                                "message": message, "advice": []}


def ended_short(run: Run, cancelled: bool, unfinished: int) -> None:
    """Say why a run that did not read everything ended: cancelled, or collections failed."""
    if cancelled:
        run.status = RunStatus.CANCELLED
        run.error = "Cancelled. Records read before the cancel are kept."
    else:
        run.status = RunStatus.FAILED
        run.error = (f"{unfinished} of {len(run.collections)} collections did not finish; "
                     f"the others are stored. Retry the failed collections to complete "
                     f"the run.")


def settle(collection: RunCollection, outcome: FetchResult | BaseException | None,
           live: dict[str, Any], user_cancelled: bool) -> None:
    """Record how one collection's read ended, from its reader's outcome and live progress."""
    entity = collection.entity
    collection.retries = live.get("retries", 0)
    collection.requests = live.get("requests", 0)
    if isinstance(outcome, BaseException):
        cancelled = user_cancelled and isinstance(outcome, SourceError) \
            and outcome.cancelled
        collection.state = CollectionState.CANCELLED if cancelled else CollectionState.FAILED
        collection.records = live.get("fetched", 0)
        collection.error = error_dict(outcome, entity)
        return
    result: EntityResult | None = outcome.results.get(entity) if outcome else None
    if result is None:
        collection.state = CollectionState.FAILED
        collection.error = error_dict(SourceError(
            ErrorCategory.INVALID_RESPONSE, "The source did not report on this collection.",
            entity=entity), entity)
        return
    _settle_read(collection, result)


def _settle_read(collection: RunCollection, result: EntityResult) -> None:
    entity = collection.entity
    collection.records = result.records
    collection.pages = result.pages
    collection.total = result.total
    collection.duplicates = result.duplicates
    collection.requests = result.requests or collection.requests
    collection.warnings = list(result.warnings) or None
    collection.elapsed_s = round(result.elapsed_s, 3)
    if result.ok and result.withheld:
        # An optional collection the SIS does not grant: read as far as it can be.
        collection.state = CollectionState.COMPLETED
        collection.error = {**error_dict(SourceError(
            ErrorCategory.FORBIDDEN, result.withheld, title="Not granted", advice=(
                "Ask the SIS administrator to grant this collection to the client",
                "Or untick it in the flow's options"), entity=entity), entity),
            "withheld": True}
    elif result.ok:
        collection.state = CollectionState.COMPLETED
    else:
        cancelled = result.error is not None and result.error.cancelled
        collection.state = CollectionState.CANCELLED if cancelled else CollectionState.FAILED
        collection.error = error_dict(result.error or SourceError(
            ErrorCategory.INVALID_RESPONSE, "The collection could not be read.", entity=entity),
            entity)


def withheld(run: Run) -> dict[str, str]:
    """Return why a collection holds nothing, for those no source was granted."""
    reasons: dict[str, list[str]] = defaultdict(list)
    read = set()
    for collection in run.collections:
        if (collection.error or {}).get("withheld"):
            reasons[collection.entity].append(collection.error["message"])
        else:
            read.add(collection.entity)
    return {entity: texts[0] for entity, texts in reasons.items() if entity not in read}


def modes(run: Run, entities: list[str]) -> dict[str, str]:
    """Return bulk or delta per collection: delta when any source read only changes."""
    modes = {e: "bulk" for e in entities}
    per_node = defaultdict(set)
    for collection in run.collections:
        per_node[collection.source_node].add(collection.entity)
    for source in run.sources:
        if source.get("since"):
            for entity in per_node[source["node"]]:
                modes[entity] = "delta"
    return modes


def entity_order(entity: str) -> tuple[int, str]:
    """Return a collection's place in a bundle and a run's counts: the 1.2 order, then others."""
    return (ORDER.index(entity) if entity in ORDER else len(ORDER), entity)
