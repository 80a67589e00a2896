"""Routes of the connections area: the shared connection manager."""

from __future__ import annotations

import json

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_login import current_user, login_required
from htmx_flask import request

from webapp.connections import services, validation
from webapp.connections.forms import Embed, FormState, read, read_secret
from webapp.models import AuthMethod, Connection
from webapp.tenancy import current_org, get_or_404, is_admin

bp = Blueprint("connections", __name__, url_prefix="/connections")


@bp.record_once
def add_template_globals(state) -> None:
    # Globals, not context: the selector macro is imported into other areas' pages.
    state.app.jinja_env.globals.update(provider_name=services.provider_name)


@bp.before_request
@login_required
def require_member():
    current_org()  # 404 for a person who belongs to no organization


@bp.after_request
def vary_on_htmx(response):
    response.vary.add("HX-Request")
    return response


def _admin_connection(connection_id: int) -> Connection:
    """Load a connection of the active org (404 otherwise), then require an admin (403)."""
    connection = get_or_404(Connection, connection_id)
    if not is_admin():
        abort(403)
    return connection


def _render_form(page: str, state: FormState, *, connection: Connection | None = None,
                 embed: Embed | None = None, status: int = 200):
    """Render the connection form: the fragment for htmx, else the full page."""
    context = services.form_context(state, connection=connection, embed=embed)
    if request.htmx:
        return render_template("connections/_form.html", **context), status
    return render_template(page, **context), status


@bp.get("/")
def index():
    connections = services.list_connections()
    template = "connections/_list.html" if request.htmx else "connections/index.html"
    return render_template(template, connections=connections)


@bp.get("/new")
def new():
    state = services.form_state(request.args, app_url=request.url_root)
    return _render_form("connections/new.html", state, embed=Embed.from_request(request.args))


@bp.post("/")
def create():
    embed = Embed.from_request(request.form)
    values, secret = read(request.form), read_secret(request.form)
    template = services.provider_template(values["provider"])
    errors = validation.validate(values, secret=secret, template=template)
    if errors:
        state = services.invalid_state(values, errors, template, secret_typed=bool(secret),
                                       kept_client_side=bool(request.htmx))
        return _render_form("connections/new.html", state, embed=embed, status=422)
    connection = services.create_connection(values, secret=secret, organization=current_org(),
                                            created_by=current_user)
    if embed is not None:
        return _created(connection, embed)
    flash(f"Connection “{connection.name}” saved. Test it to check the credentials.", "success")
    return redirect(url_for(".show", connection_id=connection.id), 303)


def _created(connection: Connection, embed: Embed):
    """Answer a successful embedded create: the refreshed selector, or a confirmation."""
    event = {"connection-created": services.connection_event(connection)}
    headers = {"HX-Trigger": json.dumps(event)}
    if embed.selector:
        headers.update({"HX-Retarget": f"#{embed.selector}", "HX-Reswap": "outerHTML"})
        body = _selector(connection.id, embed, created=connection)
    else:
        body = render_template("connections/_created.html", connection=connection)
    return body, 201, headers


def _selector(selected: int | None, embed: Embed, created: Connection | None = None) -> str:
    """Render the Connection Selector fragment (emptying an outside form slot after a save)."""
    selector_id = embed.selector or "connection-selector"
    outside_slot = embed.slot if embed.slot != f"{selector_id}-new" else ""
    return render_template("connections/_selector.html", connections=services.list_connections(),
                           selected=selected, selector_id=selector_id, field=embed.field,
                           slot=outside_slot, created=created)


@bp.get("/selector")
def selector():
    embed = Embed.from_request({"embed": "1", **request.args})
    selected = request.args.get(embed.field) or request.args.get("selected") or ""
    return _selector(int(selected) if selected.isdigit() else None, embed)


@bp.get("/<int:connection_id>")
def show(connection_id: int):
    connection = get_or_404(Connection, connection_id)
    return render_template("connections/show.html", connection=connection,
                           provider=services.provider_template(connection.provider),
                           auth_method=AuthMethod(connection.auth_method))


@bp.get("/<int:connection_id>/edit")
def edit(connection_id: int):
    connection = _admin_connection(connection_id)
    state = services.form_state(request.args, app_url=request.url_root, connection=connection)
    return _render_form("connections/edit.html", state, connection=connection)


@bp.post("/<int:connection_id>")
def update(connection_id: int):
    connection = _admin_connection(connection_id)
    values, secret = read(request.form), read_secret(request.form)
    template = services.provider_template(values["provider"])
    errors = validation.validate(values, secret=secret, template=template, connection=connection)
    if errors:
        state = services.invalid_state(values, errors, template, secret_typed=bool(secret),
                                       kept_client_side=bool(request.htmx))
        return _render_form("connections/edit.html", state, connection=connection, status=422)
    changed = services.update_connection(connection, values, secret=secret)
    flash(services.update_message(connection, changed), "success")
    return redirect(url_for(".show", connection_id=connection.id), 303)


@bp.get("/<int:connection_id>/delete")
def confirm_delete(connection_id: int):
    connection = _admin_connection(connection_id)
    return render_template("connections/delete.html", connection=connection)


@bp.post("/<int:connection_id>/delete")
def delete(connection_id: int):
    connection = _admin_connection(connection_id)
    name = connection.name
    services.delete_connection(connection)
    flash(f"Connection “{name}” deleted.", "success")
    return redirect(url_for(".index"), 303)
