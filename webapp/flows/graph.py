"""A flow's graph: editing it, checking it, and laying it out for the picture.

The graph is plain JSON stored on ``Flow.graph``::

    {"nodes": [
       {"id": "source-1", "kind": "source", "plugin": "source-oneroster", "label": "...",
        "config": {"connection_id": 3, "entities": [...], "sync": "full", "schools": []}},
       {"id": "merge", "kind": "merge", "config": {"precedence": ["source-1", "source-2"]}},
       {"id": "output", "kind": "output", "plugin": "output-oneroster-csv", "config": {}}]}

Sources feed the merge node when there is one (required with two or more sources), and the
merge node, or the single source, feeds the output. Functions here never touch the database:
what they need to know about plugins and connections is passed in.
"""

from __future__ import annotations

import copy
from collections.abc import Container, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from webapp.plugin_api import ENTITIES

SOURCE = "source"
MERGE = "merge"
OUTPUT = "output"
MERGE_ID = "merge"
OUTPUT_ID = "output"
SYNC_MODES = ("full", "delta")
CONNECTION_KEY = "connection_id"
FLOW = "flow"  # key of the problems that belong to the whole graph, not to one node
MAX_SOURCES = 8


def empty() -> dict[str, Any]:
    """Return a graph with no nodes."""
    return {"nodes": []}


def nodes(graph: Mapping[str, Any]) -> list[dict[str, Any]]:
    return list(graph.get("nodes") or [])


def node(graph: Mapping[str, Any], node_id: str) -> dict[str, Any] | None:
    """Return the node with an id, or None."""
    return next((n for n in nodes(graph) if n.get("id") == node_id), None)


def sources(graph: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [n for n in nodes(graph) if n.get("kind") == SOURCE]


def merge(graph: Mapping[str, Any]) -> dict[str, Any] | None:
    return next((n for n in nodes(graph) if n.get("kind") == MERGE), None)


def output(graph: Mapping[str, Any]) -> dict[str, Any] | None:
    return next((n for n in nodes(graph) if n.get("kind") == OUTPUT), None)


def connection_ids(graph: Mapping[str, Any]) -> set[int]:
    """Return the ids of the saved connections the graph's sources use."""
    ids = set()
    for source in sources(graph):
        value = (source.get("config") or {}).get(CONNECTION_KEY)
        if isinstance(value, int):
            ids.add(value)
    return ids


def default_options() -> dict[str, Any]:
    """Return the options of a new source: every collection, full sync, no school filter."""
    return {"entities": list(ENTITIES), "sync": "full", "schools": []}


# Editing. Each function takes a graph and returns a new one; the input is never changed.

def add_source(graph: Mapping[str, Any], plugin_id: str, label: str,
               config: Mapping[str, Any] | None = None) -> tuple[dict[str, Any], str]:
    """Add a source node; return the new graph and the new node's id."""
    new = copy.deepcopy(dict(graph))
    taken = {n.get("id") for n in nodes(new)}
    number = 1
    while f"{SOURCE}-{number}" in taken:
        number += 1
    node_id = f"{SOURCE}-{number}"
    source = {"id": node_id, "kind": SOURCE, "plugin": plugin_id, "label": label,
              "config": {**default_options(), **(config or {})}}
    others = [n for n in nodes(new) if n.get("kind") != SOURCE]
    new["nodes"] = sources(new) + [source] + others
    return _sync_precedence(new), node_id


def remove_node(graph: Mapping[str, Any], node_id: str) -> dict[str, Any]:
    """Remove a node (a source, the merge or the output)."""
    new = copy.deepcopy(dict(graph))
    new["nodes"] = [n for n in nodes(new) if n.get("id") != node_id]
    return _sync_precedence(new)


def replace_node(graph: Mapping[str, Any], updated: Mapping[str, Any]) -> dict[str, Any]:
    """Replace the node that has the same id as ``updated``."""
    new = copy.deepcopy(dict(graph))
    new["nodes"] = [copy.deepcopy(dict(updated)) if n.get("id") == updated["id"] else n
                    for n in nodes(new)]
    return _sync_precedence(new)


def add_merge(graph: Mapping[str, Any]) -> dict[str, Any]:
    """Add the merge node, with the sources' current order as precedence."""
    if merge(graph) is not None:
        return copy.deepcopy(dict(graph))
    new = copy.deepcopy(dict(graph))
    rest = [n for n in nodes(new) if n.get("kind") != OUTPUT]
    outputs = [n for n in nodes(new) if n.get("kind") == OUTPUT]
    new["nodes"] = rest + [{"id": MERGE_ID, "kind": MERGE, "config": {"precedence": []}}] + outputs
    return _sync_precedence(new)


def set_output(graph: Mapping[str, Any], plugin_id: str,
               config: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Set (or replace) the output node."""
    new = copy.deepcopy(dict(graph))
    new["nodes"] = [n for n in nodes(new) if n.get("kind") != OUTPUT]
    new["nodes"].append({"id": OUTPUT_ID, "kind": OUTPUT, "plugin": plugin_id,
                         "config": dict(config or {})})
    return new


def set_precedence(graph: Mapping[str, Any], order: list[str]) -> dict[str, Any]:
    """Set which source wins on a duplicate sourcedId: first in ``order`` wins."""
    new = copy.deepcopy(dict(graph))
    node_ = merge(new)
    if node_ is not None:
        node_.setdefault("config", {})["precedence"] = list(order)
    return _sync_precedence(new)


def move_in_precedence(graph: Mapping[str, Any], node_id: str, step: int) -> dict[str, Any]:
    """Move a source up (step -1) or down (+1) in the merge precedence."""
    node_ = merge(graph)
    if node_ is None:
        return copy.deepcopy(dict(graph))
    order = list(node_.get("config", {}).get("precedence") or [])
    if node_id not in order:
        return copy.deepcopy(dict(graph))
    index = order.index(node_id)
    target = max(0, min(len(order) - 1, index + step))
    order.insert(target, order.pop(index))
    return set_precedence(graph, order)


def _sync_precedence(graph: dict[str, Any]) -> dict[str, Any]:
    """Keep the merge precedence a permutation of the current sources, order preserved."""
    node_ = merge(graph)
    if node_ is None:
        return graph
    ids = [s["id"] for s in sources(graph)]
    config = node_.setdefault("config", {})
    kept = [i for i in config.get("precedence") or [] if i in ids]
    config["precedence"] = list(dict.fromkeys(kept + ids))
    return graph


# Checking.

@dataclass(frozen=True)
class Problems:
    """What stops a graph from being saved or run: per node id, and for the whole flow."""

    by_node: dict[str, list[str]] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not any(self.by_node.values())

    def of(self, node_id: str) -> list[str]:
        return self.by_node.get(node_id, [])

    @property
    def flow(self) -> list[str]:
        return self.of(FLOW)

    def all(self) -> list[str]:
        """Return every message, flow-level first, each prefixed by its node's id."""
        messages = list(self.flow)
        for key, items in self.by_node.items():
            if key != FLOW:
                messages += [f"{key}: {m}" for m in items]
        return messages


def check(graph: Mapping[str, Any], *, source_plugins: Container[str],
          output_plugins: Container[str], connection_plugins: Container[str],
          connections: Container[int]) -> Problems:
    """Explain everything that makes a graph unfit to save.

    ``connection_plugins`` are the source plugins that read through a saved connection;
    ``connections`` are the ids of the organization's saved connections.
    """
    problems: dict[str, list[str]] = {}

    def say(key: str, message: str) -> None:
        problems.setdefault(key, []).append(message)

    ids = [n.get("id") for n in nodes(graph)]
    if len(ids) != len(set(ids)):
        say(FLOW, "Two nodes share an id.")
    for kind in sorted({n.get("kind") for n in nodes(graph)} - {SOURCE, MERGE, OUTPUT}, key=str):
        say(FLOW, f"Unknown node kind {kind!r}.")
    source_nodes = sources(graph)
    if not source_nodes:
        say(FLOW, "Add a source: a flow needs at least one source to read from.")
    if len(source_nodes) > MAX_SOURCES:
        say(FLOW, f"A flow can have at most {MAX_SOURCES} sources.")
    for source in source_nodes:
        for message in _source_problems(source, source_plugins, connection_plugins, connections):
            say(source["id"], message)

    merges = [n for n in nodes(graph) if n.get("kind") == MERGE]
    if len(merges) > 1:
        say(FLOW, "A flow has at most one merge node.")
    if len(source_nodes) >= 2 and not merges:
        say(FLOW, "Two or more sources need a merge node that says which source wins when the "
                  "same sourcedId appears in more than one.")
    for node_ in merges:
        for message in _merge_problems(node_, [s["id"] for s in source_nodes]):
            say(node_.get("id") or MERGE_ID, message)

    for key, message in _output_problems(graph, output_plugins):
        say(key, message)
    return Problems(problems)


def _output_problems(graph: Mapping[str, Any],
                     output_plugins: Container[str]) -> Iterator[tuple[str, str]]:
    outputs = [n for n in nodes(graph) if n.get("kind") == OUTPUT]
    if not outputs:
        yield FLOW, "Add an output: a flow needs somewhere to put the data it reads."
    elif len(outputs) > 1:
        yield FLOW, "A flow has exactly one output."
    for node_ in outputs:
        if node_.get("plugin") not in output_plugins:
            yield (node_.get("id") or OUTPUT_ID,
                   f"Output plugin {node_.get('plugin')!r} is not installed.")


def _source_problems(source: Mapping[str, Any], source_plugins: Container[str],
                     connection_plugins: Container[str],
                     connections: Container[int]) -> list[str]:
    plugin = source.get("plugin")
    if plugin not in source_plugins:
        return [f"Source plugin {plugin!r} is not installed."]
    config = source.get("config") or {}
    messages = []
    if plugin in connection_plugins:
        connection_id = config.get(CONNECTION_KEY)
        if connection_id in (None, ""):
            messages.append("Choose a connection for this source.")
        elif connection_id not in connections:
            messages.append("Connection missing: the saved connection this source used was "
                            "deleted. Choose another connection.")
    entities = config.get("entities")
    if not isinstance(entities, list) or not entities:
        messages.append("Choose at least one collection to read.")
    elif any(e not in ENTITIES for e in entities):
        messages.append("Unknown collection: choose among " + ", ".join(ENTITIES) + ".")
    if config.get("sync", "full") not in SYNC_MODES:
        messages.append("Sync must be full or delta.")
    schools = config.get("schools", [])
    if not isinstance(schools, list) or not all(isinstance(s, str) and s for s in schools):
        messages.append("The school filter must be a list of school sourcedIds.")
    return messages


def _merge_problems(node_: Mapping[str, Any], source_ids: list[str]) -> list[str]:
    messages = []
    if len(source_ids) < 2:
        messages.append("A merge needs two or more sources; add a source or remove the merge.")
    precedence = (node_.get("config") or {}).get("precedence") or []
    if sorted(precedence) != sorted(source_ids):
        messages.append("The precedence order must list every source exactly once.")
    return messages
