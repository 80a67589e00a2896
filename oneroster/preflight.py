"""Pre-flight for a flow's source: would an import of these collections work, and how big is it?

The same checklist as the connection test (Base URL, proxy, token, one step per collection),
but each collection step reads a sample page and checks every sampled record: a missing field
an import cannot do without is an error, another field the specification requires is a warning.
The result lists the errors that would prevent an import, in words a person can act on.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from oneroster.check import attempt, probe_collections, signed_in
from oneroster.checklist import (
    FAILED,
    OK,
    WARNING,
    Budget,
    Checklist,
    Probe,
    Step,
    count_text,
    probe_collection,
)
from oneroster.model import ENTITIES, ENTITY_LABELS, ClientSettings
from oneroster.required_fields import ESSENTIAL, missing_in_sample, required_fields

SAMPLE_SIZE = 100

Report = Callable[[dict[str, Any]], None]


def initial_steps(entities: Sequence[str]) -> list[Step]:
    """Return the pre-flight checklist for the chosen collections, every step pending."""
    return [
        Step("base_url", "Base URL"),
        Step("proxy", "Proxy"),
        Step("token", "Credentials"),
        *(Step(entity, ENTITY_LABELS[entity]) for entity in entities),
    ]


def run_preflight(settings: ClientSettings, *, entities: Sequence[str] = ENTITIES,
                  budget: float = 60.0, report: Report | None = None, cancel: Any = None,
                  client_factory: Callable[[ClientSettings], Any] | None = None,
                  sample_size: int = SAMPLE_SIZE) -> dict[str, Any]:
    """Check everything an import of `entities` needs; return the checklist with its verdict.

    The result carries, besides the checklist, ``errors`` (what would prevent an import),
    ``warnings`` and ``totals`` (records per collection; None where the server gives none).
    """
    chosen = tuple(e for e in ENTITIES if e in set(entities)) or ENTITIES
    with attempt(settings, initial_steps(chosen), budget=budget, report=report, cancel=cancel,
                 workers=len(chosen), name="sdm-preflight") as run:
        if signed_in(run, settings, client_factory) is not None:
            _sample_collections(run.checklist, settings, run.client, run.clock, run.pool,
                                chosen, run.suggestion, sample_size)
        return _verdict(run.checklist, chosen)


def _sample_collections(checklist: Checklist, settings: ClientSettings, client: Any, clock: Budget,
                        pool: ThreadPoolExecutor, chosen: tuple[str, ...],
                        suggestion: str | None, sample_size: int) -> None:
    probe_collections(
        checklist, clock, pool, chosen, suggestion,
        probe=lambda entity: probe_collection(client, entity, sample_size, settings.version,
                                              True),
        judge=lambda probe: _judge_sample(checklist, probe, settings.version),
    )


def _judge_sample(checklist: Checklist, probe: Probe, version: str) -> None:
    """Check every sampled record's fields: essential ones stop an import, others warn."""
    label = ENTITY_LABELS[probe.entity]
    summary = f"HTTP {probe.status} · {count_text(probe)}"  # the time has a column of its own
    checklist.learned.setdefault("totals", {})[probe.entity] = probe.total
    if not probe.records:
        empty = f"{label} is empty: the import would bring no {label.lower()}."
        checklist.complete(probe.entity, WARNING, summary, details=[empty],
                           elapsed_s=probe.elapsed_s, emit=False)
        return
    sample = [record.raw for record in probe.records]
    gaps = missing_in_sample(sample, required_fields(probe.entity, version))
    essential = set(ESSENTIAL[probe.entity])
    blocking = {name: n for name, n in gaps.items() if name in essential}
    other = {name: n for name, n in gaps.items() if name not in essential}
    details = [f"{len(sample)} sampled record{'s' if len(sample) != 1 else ''} checked."]
    details += [f"{n} of {len(sample)} lack {name}" for name, n in sorted(other.items())]
    if blocking:
        lacking = "; ".join(f"{n} of {len(sample)} sampled records lack {name}"
                            for name, n in sorted(blocking.items()))
        error = {"category": "invalid_response", "title": "Required fields missing",
                 "message": f"{label}: {lacking}. An import needs these fields.",
                 "advice": ["Ask the SIS provider why these records are incomplete"],
                 "entity": probe.entity, "status": probe.status, "server_message": None,
                 "url": None, "missing_scope": None, "step": label,
                 "missing_fields": sorted(blocking)}
        checklist.complete(probe.entity, FAILED, f"{summary} · required fields missing",
                           details=[error["message"], *details[1:]], error=error,
                           elapsed_s=probe.elapsed_s, emit=False)
        return
    state = WARNING if other else OK
    checklist.complete(probe.entity, state, summary, details=details, elapsed_s=probe.elapsed_s,
                       emit=False)


def _verdict(checklist: Checklist, chosen: tuple[str, ...]) -> dict[str, Any]:
    """Finish the checklist and add the errors, warnings and totals a flow shows."""
    result = checklist.finish(("token", *chosen))
    errors: list[str] = []
    warnings: list[str] = []
    for step in result["steps"]:
        if step["state"] == FAILED and step["error"]:
            error = step["error"]
            title = error.get("title") or "Failed"
            errors.append(f"{step['label']}: {title}. {error.get('message') or ''}".strip())
        elif step["state"] == WARNING:
            warnings.append(f"{step['label']}: {'; '.join(step['details']) or step['summary']}")
    if result["state"] != "success" and not errors:
        errors.append((result.get("error") or {}).get("message") or "The pre-flight failed.")
    result["errors"] = errors
    result["warnings"] = warnings
    totals = checklist.learned.get("totals", {})
    result["totals"] = {entity: totals.get(entity) for entity in chosen}
    result["ok"] = result["state"] == "success"
    return result


__all__ = ["OK", "SAMPLE_SIZE", "WARNING", "initial_steps", "run_preflight"]
