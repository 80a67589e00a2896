"""Routes of the connections area: the shared connection manager."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_login import current_user
from htmx_flask import request

from webapp.connections import health, recovery, services, testing, validation, verdicts, views
from webapp.connections.forms import FIELDS, SECRET_FIELD, Embed, FormState, read, read_secret
from webapp.htmx import poll_answer, retarget, trigger, unchanged
from webapp.inputs import checks_fields, id_value
from webapp.models import AuthMethod, Connection, Job, Status
from webapp.tenancy import current_org, get_or_404, is_admin, members_only

bp = Blueprint("connections", __name__, url_prefix="/connections")


@bp.record_once
def add_template_globals(state) -> None:
    # Globals, not context: the selector macro is imported into other areas' pages.
    state.app.jinja_env.globals.update(provider_name=services.provider_name,
                                       connection_signature=lambda connection:
                                       services.list_signature([connection]),
                                       connections_signature=services.list_signature,
                                       connection_test_view=views.connection_view,
                                       form_test_view=views.form_view)


members_only(bp)


def _admin_connection(connection_id: int) -> Connection:
    """Load a connection of the active org (404 otherwise), then require an admin (403)."""
    connection = get_or_404(Connection, connection_id)
    if not is_admin():
        abort(403)
    return connection


def _render_form(page: str, state: FormState, *, connection: Connection | None = None,
                 embed: Embed | None = None, status: int = 200):
    """Render the connection form: the fragment for htmx, else the full page."""
    context = views.form_context(state, connection=connection, embed=embed)
    if request.htmx:
        return render_template("connections/_form.html", **context), status
    return render_template(page, **context), status


@bp.get("/")
def index():
    """List the organization's connections (the page, or the list's light poll)."""
    connections = services.list_connections()
    signature = services.list_signature(connections)
    if request.htmx and request.args.get("seen") == signature:
        return unchanged()  # the list's light poll
    template = "connections/_list.html" if request.htmx else "connections/index.html"
    return render_template(template, connections=connections, signature=signature)


@bp.get("/new")
def new():
    """Show the new-connection form, pre-filled from a provider template."""
    state = views.form_state(request.args, app_url=request.url_root)
    return _render_form("connections/new.html", state, embed=Embed.from_request(request.args))


@bp.post("/")
@checks_fields(*FIELDS, SECRET_FIELD)
def create():
    """Save a new connection, keeping the verdict of a test of these very values."""
    embed = Embed.from_request(request.form)
    values, secret = read(request.form), read_secret(request.form)
    template = services.provider_template(values["provider"])
    errors = validation.validate(values, secret=secret, template=template)
    if errors:
        state = views.invalid_state(values, errors, template, secret_typed=bool(secret),
                                       kept_client_side=bool(request.htmx))
        return _render_form("connections/new.html", state, embed=embed, status=422)
    connection = services.create_connection(values, secret=secret, organization=current_org(),
                                            created_by=current_user)
    verdicts.adopt(connection, request.form.get("tested_job", ""), values,
                   secret or services.template_or_default(values["provider"]).demo_secret)
    if embed is not None:
        return _created(connection, embed)
    flash(f"Connection “{connection.name}” saved. Test it to check the credentials.", "success")
    return redirect(url_for(".show", connection_id=connection.id), 303)


def _created(connection: Connection, embed: Embed):
    """Answer a successful embedded create: the refreshed selector, or a confirmation."""
    event = {"connection-created": services.connection_event(connection)}
    headers = trigger(event)
    if embed.selector:
        headers.update(retarget(f"#{embed.selector}"))
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
    """Render a connection selector for a form that embeds one."""
    embed = Embed.from_request({"embed": "1", **request.args})
    selected = request.args.get(embed.field) or request.args.get("selected") or ""
    return _selector(id_value(selected), embed)


@bp.get("/selector/news")
def selector_news():
    """A selector's light poll: 204 while no connection changed, else its options again."""
    selector_id = views.safe_region(request.args.get("selector"))
    field = request.args.get("field") or "connection_id"
    field = field if views.safe_region(field) == field else "connection_id"
    connections = services.list_connections()
    if request.args.get("seen") == services.list_signature(connections):
        return "", 204
    return render_template("connections/_selector_news.html", connections=connections,
                           selected=id_value(request.args.get(field)),
                           selector_id=selector_id, field=field)


@bp.get("/<int:connection_id>")
def show(connection_id: int):
    """Show a connection: its settings, its test and its health history."""
    connection = get_or_404(Connection, connection_id)
    return render_template("connections/show.html", connection=connection,
                           provider=services.provider_template(connection.provider),
                           auth_method=AuthMethod(connection.auth_method),
                           health=health.chart(connection))


@bp.get("/<int:connection_id>/edit")
def edit(connection_id: int):
    """Show the edit form of a connection (admins only)."""
    connection = _admin_connection(connection_id)
    state = views.form_state(request.args, app_url=request.url_root, connection=connection)
    return _render_form("connections/edit.html", state, connection=connection)


@bp.post("/<int:connection_id>")
@checks_fields(*FIELDS, SECRET_FIELD)
def update(connection_id: int):
    """Save an edited connection; changed credentials send it back to Configured."""
    connection = _admin_connection(connection_id)
    values, secret = read(request.form), read_secret(request.form)
    template = services.provider_template(values["provider"])
    errors = validation.validate(values, secret=secret, template=template, connection=connection)
    if errors:
        state = views.invalid_state(values, errors, template, secret_typed=bool(secret),
                                       kept_client_side=bool(request.htmx))
        return _render_form("connections/edit.html", state, connection=connection, status=422)
    changed = services.update_connection(connection, values, secret=secret)
    if connection.status == Status.CONFIGURED:
        verdicts.adopt(connection, request.form.get("tested_job", ""), values, secret)
    flash(services.update_message(connection, changed), "success")
    return redirect(url_for(".show", connection_id=connection.id), 303)


@bp.get("/<int:connection_id>/delete")
def confirm_delete(connection_id: int):
    """Ask before deleting a connection, naming the flows that read through it."""
    connection = _admin_connection(connection_id)
    return render_template("connections/delete.html", connection=connection)


@bp.post("/<int:connection_id>/delete")
def delete(connection_id: int):
    """Delete a connection and its encrypted secret."""
    connection = _admin_connection(connection_id)
    name = connection.name
    services.delete_connection(connection)
    flash(f"Connection “{name}” deleted.", "success")
    return redirect(url_for(".index"), 303)


# --- Test Connection: start, join, poll (see webapp/connections/testing.py) -------------

def _poll_answer(template: str, view: views.TestView):
    """Answer a poll: unchanged, the fragment, or the final fragment that stops polling
    (an idle saved connection's region polls slowly for verdicts reached elsewhere)."""
    if request.args.get("seen") == view.signature:
        return unchanged()
    return poll_answer(render_template(template, view=view), final=not view.running)


@bp.post("/<int:connection_id>/test")
def start_test(connection_id: int):
    """Start a test of a saved connection, or join the one running."""
    connection = get_or_404(Connection, connection_id)
    testing.start_test(connection, user_id=current_user.id, started_by=current_user.name)
    if not request.htmx:
        return redirect(url_for(".show", connection_id=connection.id), 303)
    view = views.connection_view(connection)
    return (render_template("connections/_test_status.html", view=view), 200,
            trigger(f"connection-{connection.id}-test"))


@bp.get("/<int:connection_id>/test")
def test_status(connection_id: int):
    """Answer a poll of a saved connection's test region."""
    connection = get_or_404(Connection, connection_id)
    if not request.htmx:
        return redirect(url_for(".show", connection_id=connection.id))
    recovery.refresh(connection)
    return _poll_answer("connections/_test_status.html", views.connection_view(connection))


@bp.post("/<int:connection_id>/test/cancel")
def cancel_test(connection_id: int):
    """Ask the running test of a saved connection to stop."""
    connection = get_or_404(Connection, connection_id)
    cancelled = testing.cancel_test(connection, user_id=current_user.id, name=current_user.name)
    if not request.htmx:
        if not cancelled:
            flash("No test of this connection is running.", "info")
        return redirect(url_for(".show", connection_id=connection.id), 303)
    return render_template("connections/_test_status.html",
                           view=views.connection_view(connection))


@bp.get("/<int:connection_id>/badge")
def test_badge(connection_id: int):
    """Answer a poll of a connection's status badge."""
    connection = get_or_404(Connection, connection_id)
    recovery.refresh(connection)
    if connection.status != Status.TESTING and \
            request.args.get("seen") == services.list_signature([connection]):
        return "", 204  # the idle badge's light poll: nothing changed
    # A badge of the list (quiet) leaves the asking to the list, which polls for all rows.
    body = render_template("connections/_badge.html", connection=connection,
                           badge_polls=not request.args.get("quiet"))
    if connection.status == Status.TESTING:
        return body
    # Selectors on the page refresh the chosen connection's status text.
    return poll_answer(body, final=True, headers=trigger("connection-tested"))


@bp.get("/selected")
def selected_test_status():
    """Show the status of the connection a selector has chosen."""
    field = request.args.get("field") or "connection_id"
    value = request.args.get(field, "") if views.safe_region(field) == field else ""
    connection = get_or_404(Connection, id_value(value)) if id_value(value) else None
    if connection is not None:
        recovery.refresh(connection)
    selector = request.args.get("selector", "")
    return render_template("connections/_test_selected.html", connection=connection,
                           selector=selector if views.safe_region(selector) == selector
                           else "")


@bp.post("/test")
@checks_fields(*FIELDS, SECRET_FIELD)
def test_values():
    """Test a new connection's form values without saving them."""
    return _test_values(None)


@bp.post("/<int:connection_id>/test-values")
@checks_fields(*FIELDS, SECRET_FIELD)
def test_edited_values(connection_id: int):
    """Test an edited connection's form values without saving them."""
    return _test_values(_admin_connection(connection_id))


def _test_values(editing: Connection | None):
    """Test the connection form's values without saving them."""
    region = views.safe_region(request.args.get("region"))
    values, secret = read(request.form), read_secret(request.form)
    template = services.provider_template(values["provider"])
    errors = validation.validate(values, secret=secret, connection=editing, check_name=False,
                                 template=template)
    if errors:
        return _untestable(values, errors, template, editing, region, secret_typed=bool(secret))
    job = testing.start_values_test(values, secret=secret, organization_id=current_org().id,
                                    user_id=current_user.id, editing=editing, region=region)
    if not request.htmx:
        return redirect(url_for(".values_test_status", job_id=job.id), 303)
    return _values_test_region(job)


def _values_test_region(job: Job):
    """Answer with a values test's region; the page clears the form's earlier refusals."""
    embed = Embed.from_request(request.form)
    accepted = {"values-accepted": {"form": embed.form_id if embed else "connection-form"}}
    return (render_template("connections/_test_status.html", view=views.job_view(job)),
            200, trigger(accepted))


def _untestable(values: dict, errors: dict, template, editing: Connection | None, region: str,
                *, secret_typed: bool):
    """Answer a test of values that cannot be tested: the form again, each field marked.

    A typed new secret survives only where the form keeps it in the browser (a new
    connection's field is preserved across swaps; an edit's replacement field is not).
    """
    state = views.invalid_state(values, errors, template, secret_typed=secret_typed,
                                   kept_client_side=bool(request.htmx) and editing is None)
    view = views.invalid_view(errors, editing.id if editing else None, region)
    embed = Embed.from_request(request.form)
    context = views.form_context(state, connection=editing, embed=embed)
    if not request.htmx:
        page = "connections/edit.html" if editing else "connections/new.html"
        return render_template(page, **context, test_view=view), 422
    form_id = embed.form_id if embed else "connection-form"
    return (render_template("connections/_form.html", **context, test_view=view), 200,
            retarget(f"#{form_id}"))


def _job(job_id: str, kind: str) -> Job:
    """Load a job of the active organization and of one kind; 404 otherwise."""
    job = get_or_404(Job, job_id)
    if job.kind != kind:
        abort(404)
    return job


@bp.get("/tests/<job_id>")
def values_test_status(job_id: str):
    """Answer a poll of a test of unsaved values (its page, loaded directly)."""
    job = _job(job_id, testing.KIND)
    recovery.refresh_job(job)
    if not request.htmx:
        view = views.job_view(job, with_button=False)
        return render_template("connections/test_result.html", view=view)
    return _poll_answer("connections/_test_status.html", views.job_view(job))


@bp.post("/tests/<job_id>/cancel")
def cancel_values_test(job_id: str):
    """Ask a running test of unsaved values to stop."""
    job = _job(job_id, testing.KIND)
    testing.cancel_values_test(job, user_id=current_user.id)
    if not request.htmx:
        return redirect(url_for(".values_test_status", job_id=job.id), 303)
    return _values_test_region(job)

