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
