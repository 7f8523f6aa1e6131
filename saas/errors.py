"""App-wide error pages; JSON for clients that ask for it. An unreachable database (a restart)
is waited for a bounded time, then answered 503 with Retry-After, never 500."""

import functools
import logging
import time

from flask import abort, current_app, g, has_request_context, jsonify, render_template, request
from flask_limiter import RateLimitExceeded
from flask_wtf.csrf import CSRFError
from sqlalchemy import Engine, event
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from werkzeug.exceptions import HTTPException, InternalServerError, ServiceUnavailable

from saas.database import database_unavailable, ping_when_idle, wait_for_connections
from saas.extensions import db, limiter

log = logging.getLogger(__name__)

PAGES = (400, 403, 404, 405, 413, 429, 500, 503)
RETRY_AFTER = 5  # seconds: about how long a PostgreSQL restart takes
UNAVAILABLE = "The database is restarting, so this may not have been saved: try again in a moment."


def _wants_json() -> bool:
    best = request.accept_mimetypes.best_match(["application/json", "text/html"])
    return request.is_json or best == "application/json"


def render_error(error: HTTPException):
    status = error.code or 500
    description = error.description if status != 500 else InternalServerError.description
    if _wants_json():
        response = jsonify(error=error.name, message=description)
    else:
        template = f"errors/{status}.html" if status in PAGES else "errors/generic.html"
        response = render_template(template, error=error, description=description)
    # Keep headers such as Retry-After (429) and Allow (405).
    headers = [
        (key, value)
        for key, value in error.get_response().headers.items()
        if key.lower() not in ("content-type", "content-length")
    ]
    return response, status, headers


def handle_csrf_error(error: CSRFError):
    error.description = (
        f"The form could not be accepted: {error.description} Reload the page and try again."
    )
    return render_error(error)


def handle_rate_limit(error: RateLimitExceeded):
    """Retry-After from the limit that was hit. Set here, rather than by Flask-Limiter's
    headers on every response, which would cost a storage round trip per request."""
    response, status, headers = render_error(error)
    exceeded = limiter.current_limit
    retry_after = exceeded.reset_at - time.time() if exceeded else 1
    headers.append(("Retry-After", str(max(1, int(retry_after)))))
    return response, status, headers


def handle_server_error(error: InternalServerError):
    db.session.rollback()
    return render_error(error)


def handle_database_error(error: Exception):
    """503 with Retry-After for a database that cannot be reached now; any other database
    error is raised on, to the 500 handler."""
    if not database_unavailable(error):
        raise error
    db.session.rollback()
    log.warning("Database unavailable, answering 503: %s", str(error).splitlines()[0])
    response, status, headers = render_error(ServiceUnavailable(UNAVAILABLE))
    headers.append(("Retry-After", str(RETRY_AFTER)))
    return response, status, headers


@event.listens_for(Engine, "commit")
def _note_commit(connection) -> None:
    # A view that sent COMMIT is not run again: it may have reached the database. A connection
    # that drops before (in a query, or the flush that commit() starts with) lost nothing.
    if has_request_context():
        g.commit_started = True


@event.listens_for(Engine, "before_cursor_execute")
def _note_autocommit_write(connection, *_statement) -> None:
    # A statement in autocommit commits itself (saas.extensions.autocommit_if_idle).
    options = connection.get_execution_options()
    if has_request_context() and options.get("isolation_level") == "AUTOCOMMIT":
        g.commit_started = True


def rerun_on_disconnect(dispatch):
    """Run the view again while its database is unreachable and it has not begun to commit (the
    server rolled its transaction back), for up to DB_WAIT seconds."""

    @functools.wraps(dispatch)
    def dispatch_request():
        deadline = time.monotonic() + current_app.config["DB_WAIT"]
        pause = 0.1
        while True:
            g.commit_started = False
            try:
                return dispatch()
            except (DBAPIError, PoolTimeoutError) as error:
                rerun = database_unavailable(error) and not g.commit_started
                if not rerun or time.monotonic() + pause > deadline:
                    raise
            db.session.rollback()
            time.sleep(pause)
            pause = min(pause * 2, 1.0)

    return dispatch_request


def wait_for_the_database(app) -> None:
    """New connections wait for a restarting database, and views rerun after a dropped one."""
    with app.app_context():
        for engine in db.engines.values():
            wait_for_connections(
                engine, wait=app.config["DB_WAIT"], timeout=app.config["DB_CONNECT_TIMEOUT"]
            )
            ping_when_idle(engine, app.config["DB_PING_IDLE"])
    app.dispatch_request = rerun_on_disconnect(app.dispatch_request)


def refuse_nul_in_path() -> None:
    """No route matches a NUL byte: 404 before any view passes it to the database."""
    if "\x00" in request.path:
        abort(404)


def register_error_handlers(app) -> None:
    wait_for_the_database(app)
    # First, before CSRF and rate limits look at the request.
    app.before_request_funcs.setdefault(None, []).insert(0, refuse_nul_in_path)
    app.register_error_handler(DBAPIError, handle_database_error)
    app.register_error_handler(PoolTimeoutError, handle_database_error)
    app.register_error_handler(CSRFError, handle_csrf_error)
    app.register_error_handler(RateLimitExceeded, handle_rate_limit)
    app.register_error_handler(InternalServerError, handle_server_error)
    app.register_error_handler(HTTPException, render_error)
