"""Routes of the flows area: the list, a flow's page, the wizard and the advanced editor."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_login import current_user
from htmx_flask import request

from webapp.flows import drafts, services, views, wizard
from webapp.flows import editor as panel
from webapp.flows import graph as g
from webapp.flows.services import FlowInvalid
from webapp.htmx import current_path, go, poll_answer, push_url, replace_url
from webapp.models import Flow, FlowMode
from webapp.runs import services as runs
from webapp.tenancy import get_or_404, members_only

bp = Blueprint("flows", __name__, url_prefix="/flows")


members_only(bp)


@bp.app_template_global()
def flows_using_connection(connection):
    """Let the connection delete confirmation list the flows that read through it."""
    return services.flows_using_connection(connection)


def _go(endpoint: str, **values):
    """Send the browser on to an endpoint after a change."""
    return go(url_for(endpoint, **values))


# The list and a flow's page.

@bp.get("/")
def index():
    """List the flows, with their last run and schedule, and the unfinished drafts."""
    return render_template("flows/index.html", rows=views.flow_rows(),
                           resumable=drafts.open_drafts())


@bp.get("/<int:flow_id>")
def show(flow_id: int):
    """Show a flow: its graph, its runs and its schedule."""
    flow = get_or_404(Flow, flow_id)
    return render_template("flows/show.html", **views.flow_page(flow))


@bp.post("/<int:flow_id>/edit")
def edit(flow_id: int):
    """Open a draft of a flow in the wizard or the advanced editor."""
    flow = get_or_404(Flow, flow_id)
    mode = request.form.get("mode", flow.mode)
    if mode not in tuple(FlowMode) or (mode == FlowMode.WIZARD
                                       and not views.fits_wizard(flow.graph)):
        abort(400)
    if mode == FlowMode.WIZARD:
        return _go(".resume_wizard", draft_id=wizard.edit(flow).id)
    return _go(".editor", draft_id=drafts.start(FlowMode.ADVANCED, flow).id)


@bp.post("/<int:flow_id>/delete")
def delete(flow_id: int):
    """Delete a flow."""
    flow = get_or_404(Flow, flow_id)
    if not services.can_delete(flow):
        abort(403)
    name = flow.name
    services.delete_flow(flow)
    flash(f"Flow “{name}” deleted.", "success")
    return _go(".index")


# The wizard: one container, one fragment per step.

@bp.post("/wizard")
def start_wizard():
    """Start a new flow in the wizard."""
    draft = drafts.start(FlowMode.WIZARD)
    return _go(".wizard_step", draft_id=draft.id, step="source")


@bp.get("/wizard/<int:draft_id>")
def resume_wizard(draft_id: int):
    """Go to the step of a wizard draft where it was left."""
    draft = drafts.get_or_404(draft_id, FlowMode.WIZARD)
    step = draft.step if wizard.reachable(draft, draft.step) else wizard.first_open(draft)
    return redirect(url_for(".wizard_step", draft_id=draft.id, step=step))


@bp.get("/wizard/<int:draft_id>/<step>")
def wizard_step(draft_id: int, step: str):
    """Show a wizard step, derived from the draft (a GET writes nothing)."""
    draft = drafts.get_or_404(draft_id, FlowMode.WIZARD)
    if step not in wizard.STEP_IDS:
        abort(404)
    if not wizard.reachable(draft, step):
        return redirect(url_for(".wizard_step", draft_id=draft.id,
                                step=wizard.first_open(draft)))
    return _wizard(draft, step)  # a GET only reads: the step is remembered by the answers


def _wizard(draft, step: str, *, errors: dict | None = None, status: int = 200,
            push: bool = False):
    """Render a wizard step: the container fragment for htmx, else the whole page."""
    context = views.wizard_context(draft, step, errors or {})
    template = "flows/_wizard.html" if request.htmx else "flows/wizard.html"
    headers = {}
    here = url_for(".wizard_step", draft_id=draft.id, step=step)
    if push and request.htmx:
        headers = push_url(here)
    elif request.htmx and current_path() != here:
        # The address bar always names the step on screen, whatever asked for it.
        headers = replace_url(here)
    return render_template(template, **context), status, headers


def _advance(draft, step: str, errors: dict):
    """Show the next step after a valid answer, or the same step with its errors."""
    if errors:
        return _wizard(draft, step, errors=errors, status=422)
    following = wizard.following(step)
    if not request.htmx:
        return redirect(url_for(".wizard_step", draft_id=draft.id, step=following), 303)
    wizard.visit(draft, following)
    return _wizard(draft, following, push=True)


@bp.post("/wizard/<int:draft_id>/source")
def wizard_source(draft_id: int):
    """Choose the wizard's source plugin."""
    draft = drafts.get_or_404(draft_id, FlowMode.WIZARD)
    error = wizard.choose_source(draft, request.form.get("plugin", ""))
    return _advance(draft, "source", {"plugin": error} if error else {})


@bp.post("/wizard/<int:draft_id>/configure")
def wizard_configure(draft_id: int):
    """Store the source's settings and run its pre-flight."""
    draft = drafts.get_or_404(draft_id, FlowMode.WIZARD)
    if not wizard.reachable(draft, "configure"):
        abort(409)
    errors = wizard.configure(draft, request.form)
    if request.form.get("next") and not errors and wizard.done(draft, "configure"):
        return _advance(draft, "configure", {})
    return _wizard(draft, "configure", errors=errors, status=422 if errors else 200)


@bp.post("/wizard/<int:draft_id>/options")
def wizard_options(draft_id: int):
    """Store which collections, sync and schools the flow reads."""
    draft = drafts.get_or_404(draft_id, FlowMode.WIZARD)
    if not wizard.reachable(draft, "options"):
        abort(409)
    return _advance(draft, "options", wizard.set_options(draft, request.form))


@bp.post("/wizard/<int:draft_id>/preview")
def wizard_preview(draft_id: int):
    """Mark the preview seen and go on to saving."""
    draft = drafts.get_or_404(draft_id, FlowMode.WIZARD)
    if not wizard.reachable(draft, "preview"):
        abort(409)
    wizard.mark_previewed(draft)
    return _advance(draft, "preview", {})


@bp.post("/wizard/<int:draft_id>/save")
def wizard_save(draft_id: int):
    """Save the wizard's flow (and run it now when asked)."""
    draft = drafts.get_or_404(draft_id, FlowMode.WIZARD)
    if not wizard.reachable(draft, "save"):
        abort(409)
    flow, errors = wizard.finish(draft, request.form)
    if errors:
        return _wizard(draft, "save", errors=errors, status=422)
    if request.form.get("run_now"):
        return redirect_to_run(flow)
    flash(f"Flow “{flow.name}” saved.", "success")
    return _go(".show", flow_id=flow.id)


@bp.post("/drafts/<int:draft_id>/discard")
def discard_draft(draft_id: int):
    """Discard an unfinished draft."""
    drafts.discard(drafts.get_or_404(draft_id))
    flash("Draft discarded.", "info")
    return _go(".index")


@bp.get("/drafts/<int:draft_id>/preflight/<node_id>")
def preflight_status(draft_id: int, node_id: str):
    """Answer a poll of a source node's pre-flight."""
    draft = drafts.get_or_404(draft_id)
    context = views.preflight_context(draft, node_id)
    return poll_answer(render_template("flows/_preflight.html", **context),
                       final=context["preflight"].terminal)


# The advanced editor: a picture of the graph and a side panel per node.

@bp.post("/editor")
def start_editor():
    """Start a new flow in the advanced editor."""
    draft = drafts.start(FlowMode.ADVANCED)
    return _go(".editor", draft_id=draft.id)


def _editor(draft, selected: str | None = None, *, errors: dict | None = None,
            status: int = 200):
    """Render the editor with a node's panel open: the #editor fragment for htmx, else the page."""
    context = views.editor_context(draft, errors, selected)
    template = "flows/_editor.html" if request.htmx else "flows/editor.html"
    return render_template(template, **context), status


@bp.get("/editor/<int:draft_id>")
def editor(draft_id: int):
    """Show the advanced editor with no panel open."""
    return _editor(drafts.get_or_404(draft_id, FlowMode.ADVANCED))


@bp.get("/editor/<int:draft_id>/graph")
def editor_graph(draft_id: int):
    """Answer a poll of the editor's picture while pre-flights run."""
    context = views.editor_context(drafts.get_or_404(draft_id, FlowMode.ADVANCED),
                                   selected=request.args.get("selected"))
    # The banner above the picture follows the pre-flights too, out of band.
    return poll_answer(render_template("flows/editor/_graph.html", **context)
                       + render_template("flows/editor/_status.html", oob=True, **context),
                       final=not context["running"])


@bp.get("/editor/<int:draft_id>/nodes/<node_id>")
def editor_node(draft_id: int, node_id: str):
    """Show the editor with a node's panel open (a GET writes nothing)."""
    draft = drafts.get_or_404(draft_id, FlowMode.ADVANCED)
    if g.node(drafts.graph_of(draft), node_id) is None:
        abort(404)
    return _editor(draft, node_id)


def _node_or_404(draft, node_id: str) -> dict:
    """Return a node of the draft; the output may be set even when the graph has none."""
    node = g.node(drafts.graph_of(draft), node_id)
    if node is None and node_id == g.OUTPUT_ID:
        return {"id": g.OUTPUT_ID, "kind": g.OUTPUT}
    if node is None:
        abort(404)
    return node


@bp.post("/editor/<int:draft_id>/nodes/<node_id>")
def editor_update_node(draft_id: int, node_id: str):
    """Store a node's panel: a source's settings, the output's plugin."""
    draft = drafts.get_or_404(draft_id, FlowMode.ADVANCED)
    errors = panel.configure(draft, _node_or_404(draft, node_id), request.form)
    return _editor(draft, node_id, errors=errors, status=422 if errors else 200)


@bp.post("/editor/<int:draft_id>/nodes/<node_id>/delete")
def editor_remove_node(draft_id: int, node_id: str):
    """Remove a node from the draft's graph."""
    draft = drafts.get_or_404(draft_id, FlowMode.ADVANCED)
    _node_or_404(draft, node_id)
    panel.remove(draft, node_id)
    return _editor(draft)


@bp.post("/editor/<int:draft_id>/sources")
def editor_add_source(draft_id: int):
    """Add a source node and open its panel."""
    draft = drafts.get_or_404(draft_id, FlowMode.ADVANCED)
    node_id, error = panel.add_source(draft, request.form.get("plugin", ""))
    return _editor(draft, node_id, errors={"plugin": error} if error else None,
                   status=422 if error else 200)


@bp.post("/editor/<int:draft_id>/merge")
def editor_add_merge(draft_id: int):
    """Add the merge node and open its panel."""
    draft = drafts.get_or_404(draft_id, FlowMode.ADVANCED)
    return _editor(draft, panel.add_merge(draft))


@bp.post("/editor/<int:draft_id>/precedence")
def editor_move(draft_id: int):
    """Move a source up or down the merge precedence."""
    draft = drafts.get_or_404(draft_id, FlowMode.ADVANCED)
    panel.move(draft, request.form.get("node", ""), request.form.get("direction", ""))
    return _editor(draft, g.MERGE_ID)


@bp.post("/editor/<int:draft_id>/validate")
def editor_validate(draft_id: int):
    """Check the graph and run every configured source's pre-flight."""
    draft = drafts.get_or_404(draft_id, FlowMode.ADVANCED)
    panel.validate(draft)
    return _editor(draft, request.form.get("selected"))


@bp.post("/editor/<int:draft_id>/save")
def editor_save(draft_id: int):
    """Save the editor's draft as a flow."""
    draft = drafts.get_or_404(draft_id, FlowMode.ADVANCED)
    try:
        flow = panel.save(draft, request.form.get("name", ""))
    except FlowInvalid as exc:
        return _editor(draft, request.form.get("selected"),
                       errors={"name": exc.name_error} if exc.name_error else {}, status=422)
    flash(f"Flow “{flow.name}” saved.", "success")
    return _go(".show", flow_id=flow.id)


def redirect_to_run(flow: Flow):
    """Start a run of a just-saved flow and open the run's page."""
    try:
        run = runs.start_run(flow, current_user)
    except runs.RunRefused as exc:
        flash(f"Flow “{flow.name}” saved, but it could not start: {exc.public_message}", "error")
        return _go(".show", flow_id=flow.id)
    return _go("runs.show", run_id=run.id)

