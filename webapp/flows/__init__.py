"""Flows: the wizard, the editor, the graph of sources and outputs, the pre-flight."""

from __future__ import annotations

from webapp.jobs import Kinds


def register_jobs(kinds: Kinds) -> None:
    """Register the area's job: the pre-flight of a flow."""
    from webapp.flows import preflight

    kinds.collect(preflight)
