"""Recording admin actions, and the one way a console action runs: do it, record it (done or
refused), commit, and tell the admin."""

from collections.abc import Callable

from flask import abort, flash, redirect, request
from flask_login import current_user

from saas.admin.models import AuditEntry, Outcome
from saas.extensions import db
from saas.jobs.lifecycle import Refused


class UnknownTarget(LookupError):
    """The action names an id that does not exist: recorded, then 404."""


def record(
    action: str,
    target_type: str,
    target_id: object,
    *,
    outcome: Outcome,
    message: str | None = None,
    arguments: dict | None = None,
) -> AuditEntry:
    entry = AuditEntry(
        actor_id=current_user.id,
        actor_email=current_user.email,
        ip_address=request.remote_addr,
        action=action,
        target_type=target_type,
        target_id=None if target_id is None else str(target_id)[:100],
        arguments=arguments or {},
        outcome=outcome,
        message=message,
    )
    db.session.add(entry)
    return entry


def act(
    action: str,
    target: tuple[str, object],
    do: Callable[[], str],
    *,
    then: str,
    arguments: dict | None = None,
):
    """Run `do` (which returns what to tell the admin), audit it as done, commit, and redirect
    to `then`. A refusal rolls back what `do` started, is audited as refused and shown; an
    unknown target is audited, then answered 404."""
    try:
        message = do()
    except UnknownTarget as missing:
        _record_refusal(action, target, str(missing), arguments)
        abort(404, description=str(missing))
    except Refused as refusal:
        _record_refusal(action, target, str(refusal), arguments)
        flash(str(refusal), "error")
        return redirect(then, code=303)
    record(action, *target, outcome=Outcome.DONE, message=message, arguments=arguments)
    db.session.commit()
    flash(message, "success")
    return redirect(then, code=303)


def _record_refusal(action: str, target: tuple[str, object], message: str, arguments) -> None:
    db.session.rollback()
    record(action, *target, outcome=Outcome.REFUSED, message=message, arguments=arguments)
    db.session.commit()
