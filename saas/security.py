"""Security headers on every response: a CSP the pages satisfy, no framing, HSTS over https."""

from flask import Flask, Response, current_app, request

HSTS = "max-age=31536000; includeSubDomains"


def content_security_policy(form_action: str) -> str:
    """The CSP: only our own scripts and styles; forms may also go to Stripe's hosted pages."""
    return "; ".join(
        (
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self'",
            "img-src 'self' data:",
            "object-src 'none'",
            "base-uri 'self'",
            # Chromium checks a form's redirects against form-action too: Checkout's 303 to Stripe.
            f"form-action {form_action}",
            "frame-ancestors 'none'",
        )
    )


def is_https() -> bool:
    return request.is_secure or current_app.config["BASE_URL"].startswith("https://")


def add_security_headers(response: Response) -> Response:
    headers = response.headers
    headers.setdefault(
        "Content-Security-Policy", content_security_policy(current_app.config["CSP_FORM_ACTION"])
    )
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", "strict-origin-when-cross-origin")
    if current_app.config["HSTS_ENABLED"] and is_https():
        headers.setdefault("Strict-Transport-Security", HSTS)
    return response


def register_security_headers(app: Flask) -> None:
    app.after_request(add_security_headers)
