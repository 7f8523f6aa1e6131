"""`flask users ...` commands."""

import click
from flask.cli import AppGroup

from saas.auth import services
from saas.auth.services import AccountError
from saas.extensions import db

users_cli = AppGroup("users", help="Manage user accounts.")


@users_cli.command("create-admin")
@click.argument("email")
@click.password_option(help="Prompted for when not given.")
def create_admin(email: str, password: str) -> None:
    """Create an admin account, or make an existing account an admin."""
    try:
        user = services.create_admin(email=email, password=password)
        db.session.commit()
    except AccountError as error:
        db.session.rollback()
        raise click.ClickException(str(error)) from error
    click.echo(f"{user.email} is an admin.")


def _set_enabled(email: str, enabled: bool) -> None:
    user = services.find_user(email)
    if user is None:
        raise click.ClickException(f"No account has the email {email}.")
    try:
        message = services.set_enabled(user, enabled)
    except AccountError as error:
        raise click.ClickException(str(error)) from error
    db.session.commit()
    click.echo(message)


@users_cli.command("disable")
@click.argument("email")
def disable(email: str) -> None:
    """Disable an account: it can no longer log in, and every session of it ends."""
    _set_enabled(email, False)


@users_cli.command("enable")
@click.argument("email")
def enable(email: str) -> None:
    """Enable a disabled account (its old sessions stay ended)."""
    _set_enabled(email, True)
