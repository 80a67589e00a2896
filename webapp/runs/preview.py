"""A preview of what a flow's sources would read: counts, sample rows, validation warnings.

It reads a few records per collection (one small page each), never the whole data set.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from flask import current_app
from flask_login import current_user

from webapp import tenancy
from webapp.connections.services import open_source
from webapp.plugin_api import ENTITY_LABELS, ConfigInvalid, Sample, SourceError, SourceUnavailable
from webapp.plugins import registry
from webapp.runs import columns

SAMPLE_ROWS = 5


@dataclass(frozen=True)
class PreviewCollection:
    """One collection of one source: its size, a few rows, what looks wrong."""

    entity: str
    label: str
    total: int | None
    more: bool
    headers: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    sourced_ids: tuple[str, ...]
    error: dict[str, Any] | None = None
    warnings: tuple[str, ...] = ()

    @property
    def count_text(self) -> str:
        if self.error:
            return "unreadable"
        if self.total is not None:
            return f"{self.total:,}"
        if self.more:
            return f"more than {len(self.rows)}"
        return f"{len(self.rows)}"


@dataclass(frozen=True)
class SourcePreview:
    node_id: str
    label: str
    collections: tuple[PreviewCollection, ...] = ()
    error: dict[str, Any] | None = None

    @property
    def warnings(self) -> list[str]:
        found = [f"{self.error['title']}: {self.error['message']}"] if self.error else []
        for c in self.collections:
            if c.error:
                found.append(f"{c.label}: {c.error['title']}: {c.error['message']}")
            found += [f"{c.label}: {w}" for w in c.warnings]
        return found


@dataclass(frozen=True)
class Preview:
    """The preview of every source of a flow."""

    sources: tuple[SourcePreview, ...]

    @property
    def ok(self) -> bool:
        """Tell whether every collection of every source could be read."""
        return all(s.error is None and all(c.error is None for c in s.collections)
                   for s in self.sources)

    @property
    def warnings(self) -> list[str]:
        if len(self.sources) == 1:
            return self.sources[0].warnings
        return [f"{s.label}: {w}" for s in self.sources for w in s.warnings]

    @property
    def collections(self) -> tuple[PreviewCollection, ...]:
        """Return the collections of the only source (the wizard's case)."""
        return self.sources[0].collections if len(self.sources) == 1 else ()


def preview(source_nodes: Sequence[Mapping[str, Any]], *, organization_id: int | None = None,
            limit: int = SAMPLE_ROWS) -> Preview:
    """Read a sample of every collection of each source node ({id, plugin, label, config})."""
    if organization_id is None:
        organization_id = tenancy.current_org().id
    return Preview(tuple(_source(node, organization_id, limit) for node in source_nodes))


def _source(node: Mapping[str, Any], organization_id: int, limit: int) -> SourcePreview:
    node_id = str(node.get("id", "source"))
    cls = registry().sources.get(node.get("plugin", ""))
    label = node.get("label") or (cls.name if cls else str(node.get("plugin")))
    if cls is None:
        return SourcePreview(node_id, label, error={
            "title": "Plugin not installed",
            "message": f"The source plugin {node.get('plugin')!r} is not installed."})
    try:
        plugin = open_source(cls, node.get("config") or {}, organization_id=organization_id,
                             reason="flow preview",
                             time_budget=current_app.config["TEST_BUDGET_S"],
                             actor_id=getattr(current_user, "id", None))
        samples = plugin.sample(plugin.selected, limit)
    except ConfigInvalid as exc:
        return SourcePreview(node_id, label, error={"title": "Invalid configuration",
                                                    "message": str(exc)})
    except (SourceUnavailable, SourceError) as exc:
        return SourcePreview(node_id, label, error={"title": exc.title,
                                                    "message": exc.message})
    return SourcePreview(node_id, label, tuple(
        _collection(entity, samples.get(entity) or Sample(entity)) for entity in plugin.selected))


def _collection(entity: str, sample: Sample) -> PreviewCollection:
    label = ENTITY_LABELS.get(entity, entity)
    rows = tuple(columns.cells(entity, r.data) for r in sample.records)
    ids = tuple(r.sourced_id for r in sample.records)
    if sample.error is not None:
        return PreviewCollection(entity, label, None, False, columns.headers(entity), rows, ids,
                                 error=sample.error.to_dict())
    warnings = []
    if not sample.records and not sample.warnings:  # a reason given says more than "none"
        warnings.append(f"No {label.lower()} found.")
    warnings += sample.warnings
    deleted = sum(1 for r in sample.records if r.status == "tobedeleted")
    if deleted:
        warnings.append(f"{deleted} of {len(sample.records)} sample records are marked "
                        f"tobedeleted.")
    return PreviewCollection(entity, label, sample.total, sample.more, columns.headers(entity),
                             rows, ids, warnings=tuple(warnings))
