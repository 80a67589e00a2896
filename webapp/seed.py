"""Demo data for an empty database: the demo admin, their organization, a sandbox connection."""

from __future__ import annotations

import logging

from flask import current_app
from sqlalchemy import func, select

from webapp.auth import services as accounts
from webapp.connections import forms
from webapp.connections import services as connections
from webapp.extensions import db
from webapp.models import Organization, User
from webapp.plugins import registry

log = logging.getLogger(__name__)

DEMO_NAME = "Demo Admin"
DEMO_ORGANIZATION = "Demo School District"


def seed_demo() -> bool:
    """Seed the demo organization on an empty database; False when it already has users."""
    if db.session.scalar(select(func.count(User.id))):
        return False
    config = current_app.config
    admin, organization = accounts.create_account(
        DEMO_NAME, config["DEMO_EMAIL"], config["DEMO_PASSWORD"], DEMO_ORGANIZATION)
    log.info("Seeded %s with its admin %s", organization.name, admin.email)
    if config["SANDBOX"] and "sandbox" in registry().providers:
        _sandbox_connection(organization, admin)
    return True


def _sandbox_connection(organization: Organization, admin: User) -> None:
    """Save a connection to the in-app sandbox SIS, as the demo admin would through the form."""
    template = registry().providers["sandbox"]
    app_url = current_app.config["APP_URL"]
    values = {**forms.initial(template, app_url), "name": template.name}
    connection = connections.create_connection(
        values, secret=template.demo_secret, organization=organization, created_by=admin)
    log.info("Seeded the connection %s to %s", connection.name, connection.base_url)
