"""`flask mail ...` commands."""

import click
from flask.cli import AppGroup

from saas.extensions import db
from saas.mail import services

mail_cli = AppGroup("mail", help="The email outbox.")


@mail_cli.command("sweep")
def sweep() -> None:
    """Re-enqueue emails the queue lost and take back those a dead worker held."""
    counts = services.sweep()
    db.session.commit()
    click.echo(f"Re-enqueued {counts['requeued']}, took back {counts['reclaimed']}.")


@mail_cli.command("retry")
@click.argument("email_id", type=int, required=False)
@click.option("--all-failed", is_flag=True, help="Retry every failed email.")
def retry(email_id: int | None, all_failed: bool) -> None:
    """Send a failed email (or all failed emails) again."""
    if (email_id is None) == (not all_failed):
        raise click.UsageError("Give either an email ID or --all-failed.")
    retried = services.retry_failed(email_ids=None if all_failed else [email_id])
    db.session.commit()
    if email_id is not None and not retried:
        raise click.ClickException(f"No failed email with id {email_id}.")
    click.echo(f"Queued {len(retried)} email(s) again: {', '.join(map(str, retried)) or '-'}")


@mail_cli.command("failed")
@click.option("--limit", default=100, show_default=True, help="How many, the newest first.")
def failed(limit: int) -> None:
    """List failed emails and why each failed (permanent refusal, or the retry budget spent)."""
    emails = services.failed_emails(limit=limit)
    for email in emails:
        click.echo(
            f"{email.id}\t{email.to_address}\t{email.template}\t"
            f"{email.attempts} attempt(s)\t{email.last_error}"
        )
    if not emails:
        click.echo("No failed emails.")
