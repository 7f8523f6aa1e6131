"""`flask scheduler`, `flask jobs list`, `flask jobs run NAME`."""

from datetime import UTC
from zoneinfo import ZoneInfo

import click
from flask import current_app
from flask.cli import AppGroup, with_appcontext

from saas.extensions import db
from saas.jobs import clock, scheduler
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
def run_job_command(name: str, inline: bool) -> None:
    """An ad hoc run of NAME, recorded as such (it claims no slot)."""
    if name not in REGISTRY:
        known = ", ".join(sorted(REGISTRY))
        raise click.ClickException(f"No job named {name!r}. Known jobs: {known}")
    if inline:
        run = run_inline(name)
        click.echo(f"Run #{run.id} of {name}: {run.status} {run.result or run.error or ''}")
        if run.status != RunStatus.SUCCEEDED:
            raise SystemExit(1)
        return
    run = enqueue_manual_run(name)
    db.session.commit()
    click.echo(f"Enqueued run #{run.id} of {name}; a worker will run it.")
