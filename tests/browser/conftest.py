"""The browser suite: Playwright driving Debian's Chromium (never a downloaded browser) against
the Procfile's web command, with the real worker. Screenshots of each final state are saved under
BROWSER_ARTIFACTS (default .ci/artifacts/browser). The web, worker and CLI processes run the
product's app through the test probes, so a test that asks for `fixed_clock` (before
`live_server`) has them all on its fixed clock (PROBE_FIXED_NOW)."""

import os
from pathlib import Path

import pytest
from playwright.sync_api import sync_playwright

from tests.support.procfile import ROOT, procfile_command
from tests.support.smtp import free_port
from tests.support.waiting import wait_until_serving

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(os.environ.get("BROWSER_ARTIFACTS") or ROOT / ".ci" / "artifacts" / "browser")
# The web command's app and bind address, and what the tests run instead.
WEB_APP = (
    '"saas:create_app()" --bind 0.0.0.0:',
    '"tests.support.probe_clock:create_app()" --bind 127.0.0.1:',
)


@pytest.fixture(scope="session")
def chromium():
    if not Path(CHROMIUM).exists():
        raise RuntimeError(f"{CHROMIUM} is missing: apt-get install chromium (scripts/test does)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
        yield browser
        browser.close()


@pytest.fixture
def live_server(start_process, app):
    """The Procfile's web command (gunicorn) on a free port of 127.0.0.1, serving the probe app."""
    assert WEB_APP[0] in procfile_command("web"), "the Procfile's web command changed"
    port = free_port()
    start_process("web", WEB_APP, PORT=str(port), WEB_CONCURRENCY="1")
    return wait_until_serving(f"http://127.0.0.1:{port}")


@pytest.fixture
def csp_violations():
    """Every Content Security Policy violation the page fixture saw; it fails the test on any."""
    return []


@pytest.fixture
def page(chromium, request, csp_violations):
    context = chromium.new_context()
    record_csp_violations(context, csp_violations)
    page = context.new_page()
    page.on("console", lambda message: csp_console_message(message.text, csp_violations))
    page.set_default_timeout(15000)
    yield page
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{request.node.name}.png"), full_page=True)
    context.close()
    assert csp_violations == [], "the pages broke their Content Security Policy"


def record_csp_violations(context, violations: list) -> None:
    """Each document reports its `securitypolicyviolation` events to Python as they happen."""

    def report(text: str) -> None:  # a bound builtin cannot be exposed to the page
        violations.append(text)

    context.expose_function("__reportCspViolation", report)
    context.add_init_script(CSP_LISTENER)


def csp_console_message(text: str, violations: list) -> None:
    if "Content Security Policy" in text or "Refused to" in text:
        violations.append(f"console: {text}")


CSP_LISTENER = """
document.addEventListener("securitypolicyviolation", function (event) {
  window.__reportCspViolation(
    event.violatedDirective + " blocked " + (event.blockedURI || "inline") + " on " +
    event.documentURI + " (" + (event.sourceFile || "") + ":" + event.lineNumber + ")");
});
"""
