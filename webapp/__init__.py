"""SDM: move roster data out of a Student Information System over OneRoster."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from flask import Flask

from webapp import config as settings
from webapp.crypto import check_keys
from webapp.extensions import csrf, db, login, migrate
from webapp.extensions import htmx as htmx_extension


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """Build the app: defaults, SDM_* environment, test overrides, extensions, blueprints."""
    app = Flask(__name__, instance_relative_config=True,
                template_folder="../templates", static_folder="../static")
    app.config.update(settings.load(environ={} if test_config is not None else None,
                                    dotenv_path=None if test_config is not None else ".env"))
    app.config.update(
        SQLALCHEMY_ENGINE_OPTIONS={"pool_pre_ping": True},
        WTF_CSRF_TIME_LIMIT=None,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SQLALCHEMY_DATABASE_URI=None,
    )
    if test_config:
        app.config.update(test_config)
    settings.finalize(app.config, app.instance_path)
    check_keys(app.config["ENCRYPTION_KEYS"])
    logging.basicConfig(level=app.config["LOG_LEVEL"],
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    _init_extensions(app)
    _register_blueprints(app)
    from webapp import cli, tenancy, wording

    cli.init_app(app)
    wording.init_app(app)
    from webapp.orgs.services import open_invitations

    app.jinja_env.globals.update(current_membership=tenancy.current_membership,
                                 is_admin=tenancy.is_admin, open_invitations=open_invitations)
    return app


def _init_extensions(app: Flask) -> None:
    """Bind the extensions, the request hooks, the plugins, the job runner and the scheduler."""
    db.init_app(app)
    migrate.init_app(app, db, directory=str(Path(app.root_path).parent / "migrations"),
                     render_as_batch=True, compare_type=True)
    login.init_app(app)
    csrf.init_app(app)
    htmx_extension.init_app(app)
    _sqlite_pragmas(app)

    from webapp import (
        connections,
        flows,
        headers,
        inputs,
        jobs,
        notifications,
        plugins,
        runs,
        schedules,
    )
    from webapp.auth import sessions, throttle

    sessions.init_app(app)
    throttle.init_app(app)
    headers.init_app(app)
    inputs.init_app(app)
    plugins.init_app(app)
    jobs.init_app(app, areas=(connections, flows, runs, notifications))
    schedules.init_app(app)


def _register_blueprints(app: Flask) -> None:
    """Register one blueprint per area."""
    from webapp.auth.routes import bp as auth_bp
    from webapp.connections.routes import bp as connections_bp
    from webapp.errors.routes import bp as errors_bp
    from webapp.flows.routes import bp as flows_bp
    from webapp.main.routes import bp as main_bp
    from webapp.notifications.routes import bp as notifications_bp
    from webapp.orgs.routes import bp as orgs_bp
    from webapp.runs.routes import bp as runs_bp
    from webapp.schedules.routes import bp as schedules_bp

    for blueprint in (main_bp, errors_bp, auth_bp, orgs_bp, connections_bp, flows_bp, runs_bp,
                      schedules_bp, notifications_bp):
        app.register_blueprint(blueprint)


def _sqlite_pragmas(app: Flask) -> None:
    """Let SQLite enforce foreign keys and serve readers while a job writes."""
    if not app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        return
    from sqlalchemy import event

    with app.app_context():
        engine = db.engine

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_connection, _record):
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA busy_timeout=10000")
            cursor.close()
