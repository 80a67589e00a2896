"""Routes of the runs area: start, watch, cancel and retry runs; browse and download results.

POST /runs/flows/<flow_id>/start   runs.start      "Run now" (303 to the run; htmx: HX-Redirect)
GET  /runs/                        runs.activity   every run of the organization (?status=&page=)
GET  /runs/flows/<flow_id>/history runs.history    the run history fragment of a flow
GET  /runs/<run_id>                runs.show       the run page
GET  /runs/<run_id>/progress       runs.progress   the live fragment (286 once all has ended)
POST /runs/<run_id>/cancel         runs.cancel
POST /runs/<run_id>/retry          runs.retry      "Retry failed collections"
POST /runs/<run_id>/output         runs.write_output  write the output (the bundle) again
POST /runs/<run_id>/delete         runs.delete     delete an ended run, its records and its file
GET  /runs/<run_id>/data           runs.data       data browser (?entity=&q=&page=)
GET  /runs/<run_id>/download       runs.download   the output artifact (the CSV bundle)
"""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, send_file, url_for
from flask_login import current_user
from htmx_flask import request
from werkzeug.routing import BuildError

from webapp.htmx import go, poll_answer, to_alerts
from webapp.inputs import page_number
from webapp.models import Flow, Run
from webapp.runs import services, views
from webapp.tenancy import get_or_404, members_only

bp = Blueprint("runs", __name__, url_prefix="/runs")


def flow_url(flow_id: int) -> str:
    """Return the flow page's URL (the flow list while the flows area has no such page)."""
    try:
        return url_for("flows.show", flow_id=flow_id)
    except BuildError:
        return url_for("flows.index")


@bp.record_once
def add_template_globals(state) -> None:
    # Globals, so the flow page can include runs/_history.html with only `flow` in hand.
    state.app.jinja_env.globals.update(flow_runs=views.history, flow_url=flow_url)


members_only(bp)


@bp.errorhandler(services.RunRefused)
def refused(exc: services.RunRefused):
    """Tell why a run action was refused: an alert for htmx, else a flash back on its page."""
    if request.htmx:
        return (render_template("errors/_alert.html", message=exc.public_message), 409,
                to_alerts())
    flash(exc.public_message, "error")
    args = request.view_args or {}
    if "run_id" in args:
        return redirect(url_for("runs.show", run_id=args["run_id"]), 303)
    return redirect(flow_url(args["flow_id"]), 303)


@bp.post("/flows/<int:flow_id>/start")
def start(flow_id: int):
    """Start a run of a flow and open its page."""
    flow = get_or_404(Flow, flow_id)
    run = services.start_run(flow, current_user)
    return go(url_for("runs.show", run_id=run.id))


@bp.get("/")
def activity():
    """List every run of the organization, newest first, filtered by status."""
    status = request.args.get("status", "all")
    if status not in views.ACTIVITY_FILTERS:
        status = "all"
    page = request.args.get("page", 1, type=int) or 1
    runs, pages = views.activity(status, page)
    return render_template("runs/activity.html", runs=runs, status=status, page=page,
                           pages=pages, filters=views.ACTIVITY_LABELS)


@bp.get("/flows/<int:flow_id>/history")
def history(flow_id: int):
    """Render a flow's run history fragment."""
    flow = get_or_404(Flow, flow_id)
    return render_template("runs/_history.html", flow=flow, runs=views.history(flow))


def _context(run: Run) -> dict:
    services.refresh(run)
    return {"run": run, "collections": views.collection_views(run),
            "stage": views.stage(run), "retryable": services.retryable(run),
            "settled": services.settled(run),
            "can_delete": services.can_delete(run, current_user),
            "artifact": views.artifact_path(run) is not None}


@bp.get("/<int:run_id>")
def show(run_id: int):
    """Show a run's page."""
    run = get_or_404(Run, run_id)
    return render_template("runs/run.html", **_context(run))


@bp.get("/<int:run_id>/progress")
def progress(run_id: int):
    """Answer the run page's poll with its progress fragment."""
    run = get_or_404(Run, run_id)
    context = _context(run)
    return poll_answer(render_template("runs/_progress.html", **context),
                       final=context["settled"])


def _updated(run: Run):
    """Answer a run action: the progress fragment for htmx, else back to the run page."""
    if request.htmx:
        return render_template("runs/_progress.html", **_context(run))
    return redirect(url_for("runs.show", run_id=run.id), 303)


@bp.post("/<int:run_id>/cancel")
def cancel(run_id: int):
    """Ask a running run to stop."""
    run = services.cancel_run(get_or_404(Run, run_id), current_user)
    return _updated(run)


@bp.post("/<int:run_id>/retry")
def retry(run_id: int):
    """Retry the collections of a run that did not finish."""
    run = get_or_404(Run, run_id)
    services.retry_failed(run, current_user)
    return _updated(run)


@bp.post("/<int:run_id>/output")
def write_output(run_id: int):
    """Write a run's output bundle again."""
    run = get_or_404(Run, run_id)
    services.write_output_again(run, current_user)
    return _updated(run)


@bp.post("/<int:run_id>/delete")
def delete(run_id: int):
    """Delete an ended run, its records and its file."""
    run = get_or_404(Run, run_id)
    if not services.can_delete(run, current_user):
        abort(403)
    flow_id, name = run.flow_id, f"Run {run.id} of {run.flow_name}"
    services.delete_run(run, current_user)
    flash(f"{name} deleted, with its records and its file.", "success")
    return go(flow_url(flow_id))


@bp.get("/<int:run_id>/data")
def data(run_id: int):
    """Browse the records a run stored."""
    run = get_or_404(Run, run_id)
    entities = list(run.counts or {}) or [c.entity for c in run.collections]
    entity = request.args.get("entity") or (entities[0] if entities else "orgs")
    if entity not in entities:
        abort(404)
    page = views.browse(run, entity, request.args.get("q", ""),
                           page_number())
    template = "runs/_table.html" if request.htmx else "runs/data.html"
    return render_template(template, run=run, entities=entities, browse=page)


@bp.get("/<int:run_id>/download")
def download(run_id: int):
    """Download a run's output bundle."""
    run = get_or_404(Run, run_id)
    path = views.wait_for_artifact(run)
    if path is None:
        abort(404)
    return send_file(path, mimetype=run.output.get("media_type", "application/octet-stream"),
                     as_attachment=True, download_name=run.output.get("filename", path.name))
