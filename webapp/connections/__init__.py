"""Connections to a SIS: the form, the connection test, the health history."""

from __future__ import annotations

from webapp.jobs import Kinds


def register_jobs(kinds: Kinds) -> None:
    """Register the area's job: the connection test."""
    from webapp.connections import recovery, testing

    kinds.collect(testing, recovery)
