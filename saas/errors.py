"""App-wide error pages; JSON for clients that ask for it."""

import time

from flask import jsonify, render_template, request
from flask_limiter import RateLimitExceeded
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException, InternalServerError

from saas.extensions import db, limiter

PAGES = (400, 403, 404, 405, 429, 500)


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


def register_error_handlers(app) -> None:
    app.register_error_handler(CSRFError, handle_csrf_error)
    app.register_error_handler(RateLimitExceeded, handle_rate_limit)
    app.register_error_handler(InternalServerError, handle_server_error)
    app.register_error_handler(HTTPException, render_error)
