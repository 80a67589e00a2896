"""Schedules of flows and the scheduler that starts their runs."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Start the embedded scheduler when configured (and never under tests)."""
    if app.config["SCHEDULER"] == "embedded" and not app.config.get("TESTING"):
        from webapp.schedules.scheduler import start_embedded

        app.extensions["sdm.scheduler"] = start_embedded(app)
