"""Security headers on every kind of response, HSTS only over https, templates the CSP allows."""

import re
from urllib.parse import urlsplit

import pytest

from saas.config import PROJECT_ROOT
from tests.support.fake_stripe import FakeStripe, fake_stripe_env

TEMPLATES = PROJECT_ROOT / "templates"
EXPECTED = {
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "strict-origin-when-cross-origin",
}
CSP_DIRECTIVES = [
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "object-src 'none'",
    "base-uri 'self'",
    "frame-ancestors 'none'",
]
INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.IGNORECASE)
INLINE_STYLE = re.compile(r"<style\b|\sstyle\s*=|\son[a-z]+\s*=|javascript:", re.IGNORECASE)


@pytest.fixture
def app_env(app_env, httpserver, monkeypatch):
    """Stripe's API is the local fake, so the checkout answers its redirect to Checkout."""
    return fake_stripe_env(app_env, httpserver, monkeypatch)


def csp(response) -> dict[str, str]:
    policy = response.headers["Content-Security-Policy"]
    pairs = (part.strip().split(" ", 1) for part in policy.split(";"))
    return {name: f"{name} {value}" for name, value in pairs}


def assert_security_headers(response) -> None:
    for name, value in EXPECTED.items():
        assert response.headers[name] == value, name
    directives = csp(response)
    for directive in CSP_DIRECTIVES:
        assert directives[directive.split()[0]] == directive
    assert directives["form-action"].startswith("form-action 'self'")
    assert "Strict-Transport-Security" not in response.headers  # plain http


def test_a_page_carries_every_header(client):
    response = client.get("/pricing")
    assert response.status_code == 200
    assert_security_headers(response)


def test_a_json_endpoint_carries_every_header(client):
    response = client.get("/health")
    assert response.is_json
    assert_security_headers(response)


def test_an_error_page_carries_every_header(client):
    response = client.get("/no-such-page")
    assert response.status_code == 404
    assert_security_headers(response)


def test_a_redirect_carries_every_header(client):
    response = client.get("/billing")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    assert_security_headers(response)


def test_hsts_is_sent_over_https_only(client):
    assert "Strict-Transport-Security" not in client.get("/pricing").headers
    secure = client.get("/pricing", base_url="https://localhost")
    assert secure.headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"
    redirect = client.get("/billing", base_url="https://localhost")
    assert redirect.status_code == 302 and "Strict-Transport-Security" in redirect.headers


@pytest.mark.app_config(BASE_URL="https://saas.example.com")
def test_hsts_is_sent_when_the_public_address_is_https_behind_a_proxy(client):
    """TLS ends at the proxy: the app sees http, but its public address is https."""
    assert "max-age=31536000" in client.get("/pricing").headers["Strict-Transport-Security"]


@pytest.mark.app_config(HSTS_ENABLED=False)
def test_hsts_can_be_turned_off(client):
    response = client.get("/pricing", base_url="https://localhost")
    assert response.status_code == 200
    assert "Strict-Transport-Security" not in response.headers
    assert response.headers["X-Frame-Options"] == "DENY"


def test_the_checkout_redirect_goes_to_an_origin_the_form_action_allows(app, auth, httpserver):
    """Chromium checks a form's redirects against form-action: Checkout's origin must be listed."""
    FakeStripe(httpserver).standard()
    auth.signup()
    auth.login()
    pricing = auth.client.get("/pricing")
    assert 'action="/billing/checkout"' in pricing.get_data(as_text=True)
    response = auth.post("/billing/checkout", {"plan": "pro"}, token_from="/pricing")
    assert response.status_code == 303
    target = urlsplit(response.headers["Location"])
    assert target.netloc == "checkout.stripe.com"
    allowed = csp(pricing)["form-action"].split()[1:]
    assert f"{target.scheme}://{target.netloc}" in allowed


def served_templates():
    """Every template a browser renders (email bodies go to mail clients, not under the CSP)."""
    return sorted(
        path
        for path in TEMPLATES.rglob("*.html")
        if path.relative_to(TEMPLATES).parts[0] != "email"
    )


def test_no_template_has_inline_scripts_styles_or_handlers():
    offenders = [
        f"{path.relative_to(TEMPLATES)}:{number}: {line.strip()}"
        for path in served_templates()
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if INLINE_SCRIPT.search(line) or INLINE_STYLE.search(line)
    ]
    assert len(served_templates()) > 20
    assert offenders == []
