"""What the console's lists share: filters read from the query string (a value the list cannot
mean is answered 400 with what it accepts, never a 500 or a silently wider list) and pages by
id, newest first (keyset: `before=<id>` stays fast however deep, unlike OFFSET)."""

import re

from flask import abort, request

from saas.admin.console import PAGE_SIZE
from saas.extensions import db

ADDRESS = re.compile(r"[^\s@]+@[^\s@]+")
MAX_ID_DIGITS = 18  # fits a BIGINT: a longer number would overflow the database's integer


def choice(name: str, allowed) -> str:
    """The query argument `name`, which must be empty or one of `allowed`."""
    value = request.args.get(name, "").strip()
    if value and value not in allowed:
        abort(400, description=f"{name}={value[:60]!r} is not one of: {', '.join(allowed)}.")
    return value


def address(name: str) -> str:
    """The query argument `name`, empty or an email address."""
    value = request.args.get(name, "").strip()
    if value and (len(value) > 254 or not ADDRESS.fullmatch(value)):
        abort(400, description=f"{name}={value[:60]!r} is not an email address.")
    return value


def matching(name: str, pattern: re.Pattern, what: str) -> str:
    """The query argument `name`, empty or matching `pattern` (`what` says what it must be)."""
    value = request.args.get(name, "").strip()
    if value and not pattern.fullmatch(value):
        abort(400, description=f"{name}={value[:60]!r} is not {what}.")
    return value


def before_id() -> int | None:
    value = request.args.get("before", "").strip()
    if not value:
        return None
    if not value.isdigit() or len(value) > MAX_ID_DIGITS:
        abort(400, description=f"before={value[:60]!r} is not an id.")
    return int(value)


def page(query, id_column) -> tuple[list, int | None]:
    """One page of `query`, newest first, from `before=<id>`; and the id the next page starts
    before (None on the last page)."""
    if (before := before_id()) is not None:
        query = query.where(id_column < before)
    rows = list(db.session.execute(query.order_by(id_column.desc()).limit(PAGE_SIZE + 1)).scalars())
    more = len(rows) > PAGE_SIZE
    return rows[:PAGE_SIZE], rows[PAGE_SIZE - 1].id if more else None
