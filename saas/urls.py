"""Absolute links for emails, built from BASE_URL so they work outside a request; the id
converter every route with an integer argument uses."""

from urllib.parse import urlsplit

from flask import current_app
from werkzeug.routing import IntegerConverter


def absolute_url(endpoint: str, **values) -> str:
    base = urlsplit(current_app.config["BASE_URL"])
    adapter = current_app.url_map.bind(
        base.netloc, script_name=base.path or "/", url_scheme=base.scheme
    )
    return adapter.build(endpoint, values, force_external=True)


def is_safe_next(target: str | None) -> bool:
    """True for same-site relative paths only: no scheme, no host, no `//` or `/\\` tricks."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")):
        return False
    if any(ch in target for ch in "\\\r\n\t"):
        return False
    parts = urlsplit(target)
    return not parts.scheme and not parts.netloc


class DatabaseIdConverter(IntegerConverter):
    """`<int:...>` in every route: at most an id column's largest value, so a longer number is
    the 404 of an id that does not exist, not an out-of-range database error."""

    def __init__(self, url_map, *args, **kwargs):
        kwargs.setdefault("max", 2**31 - 1)
        super().__init__(url_map, *args, **kwargs)
