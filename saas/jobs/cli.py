"""`flask scheduler`, `flask jobs list`, `flask jobs run NAME`."""

from datetime import UTC
from zoneinfo import ZoneInfo

import click
from flask import current_app
from flask.cli import AppGroup, with_appcontext

from saas.extensions import db
from saas.jobs import clock, control, scheduler
from saas.jobs.models import JobRun, RunStatus
from saas.jobs.registry import REGISTRY
from saas.jobs.runner import enqueue_manual_run, run_inline

jobs_cli = AppGroup("jobs", help="Scheduled jobs: list them, run one by hand.")


@click.command("scheduler")
@with_appcontext
def scheduler_command() -> None:
    """Run a scheduler replica (any number may run at once) until SIGTERM."""
    scheduler.run_forever()


@jobs_cli.command("list")
def list_jobs() -> None:
    """Each job: cron, timezone, next three runs, last run and its status."""
    timezone = current_app.config["SCHEDULER_TIMEZONE"]
    zone, now = ZoneInfo(timezone), clock.now()
    for job in sorted(REGISTRY.values(), key=lambda job: job.name):
        last = db.session.execute(
            db.select(JobRun).where(JobRun.job == job.name).order_by(JobRun.id.desc()).limit(1)
        ).scalar_one_or_none()
        click.echo(job.name)
        click.echo(f"  cron:      {job.cron or '(by hand only)'} ({timezone})")
        click.echo(f"  policies:  catch_up={job.catch_up} overlap={job.overlap}")
        if job.cron:
            upcoming = ", ".join(
                slot.astimezone(zone).strftime("%Y-%m-%d %H:%M %Z")
                for slot in job.next_slots(now, timezone, 3)
            )
            click.echo(f"  next:      {upcoming}")
        if last is None:
            click.echo("  last run:  never")
        else:
            when = (last.started_at or last.created_at).astimezone(UTC).strftime("%Y-%m-%d %H:%M")
            click.echo(f"  last run:  #{last.id} {last.status} ({last.trigger}, {when} UTC)")


@jobs_cli.command("run")
@click.argument("name")
@click.option("--inline", is_flag=True, help="Run here and now instead of on a worker.")
@click.option("--arg", "pairs", multiple=True, metavar="KEY=VALUE", help="A task's argument.")
def run_job_command(name: str, inline: bool, pairs: tuple[str, ...]) -> None:
    """An ad hoc run of NAME, recorded as such (it claims no slot)."""
    if name not in REGISTRY:
        known = ", ".join(sorted(REGISTRY))
        raise click.ClickException(f"No job named {name!r}. Known jobs: {known}")
    arguments = dict(pair.partition("=")[::2] for pair in pairs)
    try:
        if inline:
            run = run_inline(name, arguments)
        else:
            run = enqueue_manual_run(name, arguments=arguments)
            db.session.commit()
    except ValueError as invalid:
        raise click.ClickException(str(invalid)) from invalid
    if not inline:
        click.echo(f"Enqueued run #{run.id} of {name}; a worker will run it.")
        return
    click.echo(f"Run #{run.id} of {name}: {run.status} {run.result or run.error or ''}")
    if run.status != RunStatus.SUCCEEDED:
        raise SystemExit(1)


def _switch(change, name: str) -> None:
    try:
        message = change(name, by=None)
    except LookupError as unknown:
        raise click.ClickException(str(unknown)) from unknown
    db.session.commit()
    click.echo(message)


@jobs_cli.command("pause")
@click.argument("name")
def pause_command(name: str) -> None:
    """Pause a scheduled job: no scheduler replica starts its slots until it is resumed."""
    _switch(control.pause, name)


@jobs_cli.command("resume")
@click.argument("name")
def resume_command(name: str) -> None:
    """Resume a paused job; the slots it missed follow its catch-up policy."""
    _switch(control.resume, name)
