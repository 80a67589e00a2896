"""Command-line tasks: flask --app wsgi sdm <command>."""

from __future__ import annotations

import click
from flask import Flask, current_app
from flask.cli import AppGroup
from flask_migrate import upgrade
from sqlalchemy import select

from webapp.extensions import db

sdm = AppGroup("sdm", help="SDM administration.")


@sdm.command("setup")
def setup() -> None:
    """Upgrade the database and, in demo mode, seed the demo organization."""
    upgrade()
    if current_app.config["DEMO"]:
        from webapp.seed import seed_demo

        created = seed_demo()
        email = current_app.config["DEMO_EMAIL"]
        if created:
            click.echo(f"Seeded the demo organization; sign in as {email}.")


@sdm.command("demo-login")
def demo_login() -> None:
    """Print the demo sign-in."""
    from webapp.models import User

    email = current_app.config["DEMO_EMAIL"]
    if db.session.scalar(select(User).where(User.email == email)) is None:
        click.echo("No demo account in this database.")
        return
    click.echo(f"  Email:    {email}")
    click.echo(f"  Password: {current_app.config['DEMO_PASSWORD']}")


@sdm.command("worker")
@click.option("--burst", is_flag=True, help="Stop when the queue is empty.")
def worker(burst: bool) -> None:
    """Run background jobs from Redis (SDM_JOBS=rq)."""
    from webapp.jobs import RQRunner, runner
    from webapp.tuning import tune_for_background_work

    queue = runner()
    if not isinstance(queue, RQRunner):
        raise click.ClickException("Set SDM_JOBS=rq (and SDM_REDIS_URL) to run a worker.")
    click.echo(f"Working on the {queue.QUEUE!r} queue at {current_app.config['REDIS_URL']}")
    tune_for_background_work()  # this process only runs jobs: see webapp/tuning.py
    queue.work(current_app._get_current_object(), burst=burst)


@sdm.command("scheduler")
@click.option("--once", is_flag=True, help="Do one pass and stop.")
def scheduler(once: bool) -> None:
    """Start due runs of scheduled flows and sweep abandoned jobs, until stopped."""
    import threading

    from webapp.schedules import scheduler as loop

    app = current_app._get_current_object()
    embedded = app.extensions.pop("sdm.scheduler", None)
    if embedded is not None:
        embedded.set()  # this process is the scheduler now; one loop is enough
    if once:
        done = loop.tick()
        click.echo(f"Started {len(done.started)} run(s), skipped {len(done.skipped)}, "
                   f"retried {len(done.retried)}, swept {done.swept} abandoned job(s).")
        return
    click.echo(f"Scheduling every {loop.TICK_S:g} s; stop with Ctrl+C.")
    loop.serve(app, threading.Event())


@sdm.command("rotate-keys")
def rotate_keys() -> None:
    """Re-encrypt every stored secret under the newest of SDM_ENCRYPTION_KEYS."""
    from webapp.keys import rotate_stored_secrets

    report = rotate_stored_secrets()
    click.echo(f"Re-encrypted {report.connections} connection secret"
               f"{'s' if report.connections != 1 else ''} and {report.jobs} pending test "
               f"secret{'s' if report.jobs != 1 else ''} under the newest key.")
    if report.unreadable:
        for name in report.unreadable:
            click.echo(f"  Not readable with any configured key: {name}", err=True)
        raise click.ClickException(
            "Some secrets could not be decrypted; they are unchanged. Add the key they were "
            "encrypted with (or type those secrets again) before dropping an old key.")
    click.echo("Every stored secret now opens with the first key alone; older keys can go.")


def init_app(app: Flask) -> None:
    app.cli.add_command(sdm)
