"""Runs of flows: starting, the engine that fetches and stores, the output bundle, history."""

from __future__ import annotations

from webapp.jobs import Kinds


def register_jobs(kinds: Kinds) -> None:
    """Register the area's jobs: a flow run and the writing of its output."""
    from webapp.runs import engine, output

    kinds.collect(engine, output)
