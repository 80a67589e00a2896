"""Demo data for an empty database: the demo admin, their organization, a sandbox connection,
and a flow reading it with one completed run, so the first visit shows the whole product."""

from __future__ import annotations

import logging
import threading
from urllib.parse import urlsplit

from flask import current_app
from sqlalchemy import func, select
from werkzeug.serving import WSGIRequestHandler, make_server

from webapp import audit, jobs
from webapp.auth import services as accounts
from webapp.connections import forms
from webapp.connections import services as connections
from webapp.extensions import db
from webapp.flows import graph as g
from webapp.models import Connection, Flow, FlowMode, Organization, User
from webapp.plugins import registry
from webapp.runs import services as runs

log = logging.getLogger(__name__)

DEMO_NAME = "Demo Admin"
DEMO_ORGANIZATION = "Demo School District"
DEMO_FLOW = "Demo district nightly roster"


def seed_demo() -> bool:
    """Seed the demo organization on an empty database; False when it already has users."""
    if db.session.scalar(select(func.count(User.id))):
        return False
    config = current_app.config
    admin, organization = accounts.create_account(
        DEMO_NAME, config["DEMO_EMAIL"], config["DEMO_PASSWORD"], DEMO_ORGANIZATION)
    log.info("Seeded %s with its admin %s", organization.name, admin.email)
    if config["SANDBOX"] and "sandbox" in registry().providers:
        connection = _sandbox_connection(organization, admin)
        flow = _demo_flow(organization, admin, connection)
        _first_run(flow, admin)
    return True


def _demo_flow(organization: Organization, admin: User, connection: Connection) -> Flow:
    """Save a flow from the sandbox connection to the CSV bundle, as the wizard would."""
    cls = registry().sources["source-oneroster"]
    graph, _ = g.add_source(g.empty(), cls.id, connection.name,
                            {**cls.defaults(), g.CONNECTION_KEY: connection.id})
    output = registry().outputs["output-oneroster-csv"]
    graph = g.set_output(graph, output.id, output.defaults())
    flow = Flow(organization_id=organization.id, created_by_id=admin.id, name=DEMO_FLOW,
                graph=graph, mode=FlowMode.WIZARD)
    db.session.add(flow)
    db.session.flush()
    audit.record("flow.created", f"Created flow {flow.name}", organization_id=organization.id,
                 target=flow, actor_id=admin.id)
    db.session.commit()
    return flow


def _first_run(flow: Flow, admin: User) -> None:
    """Run the demo flow once now, against the sandbox the app serves at SDM_APP_URL.

    The app is not serving yet, so for this one run it is served on that address from here,
    and the run goes through the same HTTP, job and storage paths as any other.
    """
    address = urlsplit(current_app.config["APP_URL"])
    if address.hostname not in ("127.0.0.1", "localhost", "::1"):
        log.info("The demo flow was not run: SDM_APP_URL is not a loopback address")
        return
    try:
        app = current_app._get_current_object()
        server = make_server(address.hostname, address.port or 80, app, threaded=True,
                             request_handler=_Quiet)
    except OSError as error:
        log.info("The demo flow was not run (%s); start it from its page", error)
        return
    thread = threading.Thread(target=server.serve_forever, name="demo-seed", daemon=True)
    thread.start()
    runner = current_app.extensions["sdm.jobs"]
    current_app.extensions["sdm.jobs"] = jobs.SyncRunner(runner.kinds)
    try:
        run = runs.start_run(flow, admin)
        log.info("Ran the demo flow: run %s %s", run.id, run.status)
    except runs.RunRefused as refused:
        log.info("The demo flow was not run: %s", refused.public_message)
    finally:
        current_app.extensions["sdm.jobs"] = runner
        server.shutdown()
        thread.join()


class _Quiet(WSGIRequestHandler):
    """Serve the seed's own requests without a log line each."""

    def log_request(self, *args, **kwargs) -> None:
        return None


def _sandbox_connection(organization: Organization, admin: User) -> Connection:
    """Save a connection to the in-app sandbox SIS, as the demo admin would through the form."""
    template = registry().providers["sandbox"]
    app_url = current_app.config["APP_URL"]
    values = {**forms.initial(template, app_url), "name": template.name}
    connection = connections.create_connection(
        values, secret=template.demo_secret, organization=organization, created_by=admin)
    log.info("Seeded the connection %s to %s", connection.name, connection.base_url)
    return connection
