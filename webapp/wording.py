"""How the pages count and name things: "1 user", "2,376 enrollments", "Organizations"."""

from __future__ import annotations

from webapp.plugin_api import ENTITY_LABELS

# The singular of every plural the pages count; anything else drops its "s".
SINGULAR = {"people": "person", "classes": "class", "orgs": "organization",
            "entries": "entry", "statuses": "status"}
PLURAL = {"person": "people", "class": "classes", "entry": "entries", "status": "statuses",
          "organization": "organizations"}


def counted(count: int | None, noun: str) -> str:
    """Say how many of something, with thousands separators: "1 user", "2,376 enrollments"."""
    singular = SINGULAR.get(noun, noun[:-1] if noun.endswith("s") else noun)
    plural = PLURAL.get(singular, singular + "s")
    value = count or 0
    return f"{value:,} {singular if value == 1 else plural}"


def entity_label(entity: str) -> str:
    """Name a OneRoster collection as people read it: orgs is "Organizations"."""
    return ENTITY_LABELS.get(entity, entity)


def day(moment) -> str:
    """Write a date the way every page does: 2026-12-07."""
    return moment.strftime("%Y-%m-%d") if moment else "—"


def init_app(app) -> None:
    """Make the wording available to every template as filters."""
    app.jinja_env.filters.update(counted=counted, entity_label=entity_label, day=day)
