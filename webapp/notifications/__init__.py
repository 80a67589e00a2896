"""Notifications: events worth telling, email and webhook deliveries, each person's choices."""

from __future__ import annotations

from webapp.jobs import Kinds


def register_jobs(kinds: Kinds) -> None:
    """Register the area's jobs: a notification delivery and an emailed invitation."""
    from webapp.notifications import delivery

    kinds.collect(delivery)
