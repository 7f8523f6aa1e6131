"""The Content Security Policy in a real Chromium: every page renders without one violation (the
page fixture fails on any), the recorder does catch an inline script, and a form's 303 to Stripe
Checkout is followed while a redirect to any other origin is refused."""

import time

from playwright.sync_api import expect

from saas.seed import ADMIN_EMAIL, ADMIN_PASSWORD, CUSTOMER_PASSWORD
from tests.browser.conftest import ARTIFACTS
from tests.browser.test_flows import flask_cli, log_in

PUBLIC_PAGES = ["/", "/pricing", "/terms", "/privacy", "/contact", "/signup", "/login"]
CUSTOMER_PAGES = ["/settings", "/billing", "/reports", "/password/reset"]
ADMIN_PAGES = [
    "/admin/",
    "/admin/jobs",
    "/admin/runs",
    "/admin/emails",
    "/admin/contact",
    "/admin/stripe-events",
    "/admin/users",
    "/admin/users/1",  # the seeded admin
    "/admin/audit",
]
WIDTHS = (1280, 390)


def visit(page, live_server, paths, label):
    """Open each page at both widths: never wider than the viewport (wide tables scroll inside
    their card); save its screenshot (the look is checked by eye)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for path in paths:
        for width in WIDTHS:
            page.set_viewport_size({"width": width, "height": 900})
            response = page.goto(f"{live_server}{path}")
            assert response.status == 200, path
            assert "script-src 'self'" in response.headers["content-security-policy"]
            scroll_width = page.evaluate("document.documentElement.scrollWidth")
            assert scroll_width <= width, f"{path} is {scroll_width} px wide at {width}"
            name = f"csp-{label}{path.replace('/', '-').rstrip('-') or '-home'}-{width}.png"
            page.screenshot(path=str(ARTIFACTS / name), full_page=True)


def test_every_page_renders_without_a_csp_violation(page, live_server, app_env):
    flask_cli(app_env, "seed")
    visit(page, live_server, PUBLIC_PAGES, "public")
    log_in(page, live_server, "expiring@example.com", CUSTOMER_PASSWORD)
    expect(page.get_by_role("button", name="Log out")).to_be_visible()
    visit(page, live_server, CUSTOMER_PAGES, "customer")
    page.get_by_role("button", name="Log out").click()
    log_in(page, live_server, ADMIN_EMAIL, ADMIN_PASSWORD)
    expect(page.get_by_role("button", name="Log out")).to_be_visible()
    visit(page, live_server, ADMIN_PAGES, "admin")


def test_the_recorder_catches_an_inline_script(page, live_server, csp_violations):
    page.goto(f"{live_server}/pricing")
    page.evaluate(
        "() => { const s = document.createElement('script');"
        " s.textContent = 'window.inlineRan = true'; document.body.appendChild(s); }"
    )
    deadline = time.monotonic() + 5
    while not csp_violations and time.monotonic() < deadline:
        page.wait_for_timeout(100)
    assert page.evaluate("() => window.inlineRan === undefined")  # refused
    assert any("script-src" in violation for violation in csp_violations), csp_violations
    csp_violations.clear()


def redirect_the_contact_form(page, live_server, location):
    """The contact page, as served; its POST answered 303 to `location` (as Checkout's is)."""
    page.route(
        f"{live_server}/contact",
        lambda route: (
            route.fulfill(status=303, headers={"Location": location})
            if route.request.method == "POST"
            else route.continue_()
        ),
    )
    page.goto(f"{live_server}/contact")
    page.fill("input[name=name]", "Grace Hopper")
    page.fill("input[name=email]", "grace@example.com")
    page.fill("textarea[name=message]", "Subscribe me")


def test_a_form_redirect_to_stripe_checkout_is_followed(page, live_server):
    page.route(
        "https://checkout.stripe.com/**",
        lambda route: route.fulfill(body="<h1>Stripe Checkout</h1>", content_type="text/html"),
    )
    redirect_the_contact_form(page, live_server, "https://checkout.stripe.com/c/pay/cs_test_1")
    page.click("main form button[type=submit]")
    expect(page.get_by_role("heading", name="Stripe Checkout")).to_be_visible()
    assert page.url == "https://checkout.stripe.com/c/pay/cs_test_1"


def test_a_form_redirect_to_another_origin_is_refused(page, live_server, csp_violations):
    page.route(
        "https://evil.example/**",
        lambda route: route.fulfill(body="<h1>Phished</h1>", content_type="text/html"),
    )
    redirect_the_contact_form(page, live_server, "https://evil.example/steal")
    page.click("main form button[type=submit]", no_wait_after=True)
    deadline = time.monotonic() + 5
    while not csp_violations and time.monotonic() < deadline:
        page.wait_for_timeout(100)
    assert any("form-action" in violation for violation in csp_violations), csp_violations
    assert not page.url.startswith("https://evil.example")
    csp_violations.clear()
