"""Every route of the URL map, called with every method as anonymous, customer and admin:
the status each gets (a new route without an entry fails), and CSRF on every state change."""

import pytest

from saas.auth.models import User
from saas.extensions import db, huey
from tests.support.visitors import PASSWORD, make_people, visitor

ROLES = ("anonymous", "customer", "admin")
LOGIN = "302 /login"  # login_required: to the login page, with ?next=
HOME = "302 /"
HOME_303 = "303 /"

# (rule, method): the status for anonymous, customer, admin. A POST is sent with the visitor's
# own valid CSRF token and no other field: what a form submitted empty gets.
ROUTES = {
    ("/", "GET"): (200, 200, 200),
    ("/pricing", "GET"): (200, 200, 200),
    ("/privacy", "GET"): (200, 200, 200),
    ("/terms", "GET"): (200, 200, 200),
    ("/health", "GET"): (200, 200, 200),
    ("/signup", "GET"): (200, HOME, HOME),
    ("/signup", "POST"): (400, HOME, HOME),
    ("/login", "GET"): (200, HOME, HOME),
    ("/login", "POST"): (400, HOME, HOME),
    ("/logout", "POST"): (HOME_303, HOME_303, HOME_303),
    ("/password/reset", "GET"): (200, 200, 200),
    ("/password/reset", "POST"): (400, 400, 400),
    ("/password/reset/<token>", "GET"): (200, 200, 200),
    ("/password/reset/<token>", "POST"): (400, 400, 400),
    ("/settings", "GET"): (LOGIN, 200, 200),
    ("/settings/password", "POST"): (LOGIN, 400, 400),
    ("/settings/email", "POST"): (LOGIN, 400, 400),
    ("/settings/email/confirm/<token>", "GET"): ("302 /login", "302 /settings", "302 /settings"),
    ("/settings/delete", "POST"): (LOGIN, 400, 400),
    ("/settings/verify", "POST"): (LOGIN, "303 /settings", "303 /settings"),
    ("/verify/<token>", "GET"): ("302 /login", "302 /settings", "302 /settings"),
    ("/contact", "GET"): (200, 200, 200),
    ("/contact", "POST"): (400, 400, 400),
    ("/billing", "GET"): (LOGIN, 200, 200),
    ("/billing/card/status", "GET"): (LOGIN, 200, 200),
    ("/billing/card/refresh", "POST"): (LOGIN, "303 /billing", "303 /billing"),
    ("/billing/checkout", "POST"): (LOGIN, 400, 400),
    ("/billing/portal", "POST"): (LOGIN, "303 /billing", "303 /billing"),
    ("/billing/webhook", "POST"): (400, 400, 400),  # no Stripe-Signature
    ("/reports", "GET"): (LOGIN, 200, 200),
    ("/reports", "POST"): (LOGIN, "303 /reports/", "303 /reports/"),  # kind defaults to export
    # The customer's own export; an admin sees only product-wide reports, so 404.
    ("/reports/<public_id>", "GET"): (LOGIN, 200, 404),
    ("/reports/<public_id>/progress", "GET"): (LOGIN, 200, 404),
    ("/reports/<public_id>/events", "GET"): (LOGIN, 200, 404),
    ("/reports/<public_id>/download", "GET"): (LOGIN, 200, 404),
    ("/reports/<public_id>/cancel", "POST"): (LOGIN, "303 /reports/", 404),
    ("/reports/<public_id>/retry", "POST"): (LOGIN, "303 /reports/", 404),
    ("/admin/", "GET"): (LOGIN, 403, 200),
    ("/admin/jobs", "GET"): (LOGIN, 403, 200),
    ("/admin/jobs/<name>/run", "POST"): (LOGIN, 403, "303 /admin/jobs"),
    ("/admin/jobs/<name>/pause", "POST"): (LOGIN, 403, "303 /admin/jobs"),
    ("/admin/jobs/<name>/resume", "POST"): (LOGIN, 403, "303 /admin/jobs"),
    ("/admin/jobs/<name>/slots/<slot>/run", "POST"): (LOGIN, 403, "303 /admin/jobs"),
    ("/admin/audit", "GET"): (LOGIN, 403, 200),
    ("/admin/users", "GET"): (LOGIN, 403, 200),
    ("/admin/users/<int:user_id>", "GET"): (LOGIN, 403, 200),
    ("/admin/users/<int:user_id>/disable", "POST"): (LOGIN, 403, "303 /admin/users/"),
    ("/admin/users/<int:user_id>/enable", "POST"): (LOGIN, 403, "303 /admin/users/"),
    ("/admin/users/<int:user_id>/grant-admin", "POST"): (LOGIN, 403, "303 /admin/users/"),
    ("/admin/users/<int:user_id>/revoke-admin", "POST"): (LOGIN, 403, "303 /admin/users/"),
    # The customer's export has finished: refused (and audited), back to its owner's page.
    ("/admin/reports/<public_id>/cancel", "POST"): (LOGIN, 403, "303 /admin/users/"),
    ("/admin/emails", "GET"): (LOGIN, 403, 200),
    ("/admin/emails/<int:email_id>", "GET"): (LOGIN, 403, 200),
    ("/admin/emails/<int:email_id>/retry", "POST"): (LOGIN, 403, "303 /admin/emails/"),
    ("/admin/emails/<int:email_id>/discard", "POST"): (LOGIN, 403, "303 /admin/emails/"),
    ("/admin/emails/retry-failed", "POST"): (LOGIN, 403, "303 /admin/emails"),  # unconfirmed
    ("/admin/contact", "GET"): (LOGIN, 403, 200),
    ("/admin/stripe-events", "GET"): (LOGIN, 403, 200),
    ("/admin/stripe-events/<int:event_id>", "GET"): (LOGIN, 403, 200),
    ("/admin/stripe-events/<int:event_id>/reprocess", "POST"): (
        LOGIN,
        403,
        "303 /admin/stripe-events/",
    ),
    ("/admin/runs", "GET"): (LOGIN, 403, 200),
    ("/admin/runs/<int:run_id>", "GET"): (LOGIN, 403, 200),
    ("/admin/runs/<int:run_id>/retry", "POST"): (LOGIN, 403, "303 /admin/runs/"),
    ("/admin/runs/<int:run_id>/discard", "POST"): (LOGIN, 403, "303 /admin/runs/"),
    ("/admin/jobs/<name>/retry-failed", "POST"): (LOGIN, 403, "303 /admin/runs"),  # unconfirmed
}

TOKEN_ARGUMENT = {
    "auth.reset_password": "reset_token",
    "auth.confirm_email": "email_token",
    "auth.verify_email": "verify_token",
}

EXEMPT = {("/billing/webhook", "POST")}  # Stripe signs it; CSRF-exempt by design


def url_map_routes(app) -> dict:
    """(rule, method) -> the rule object, for every method a route declares (not HEAD/OPTIONS,
    which Flask answers itself)."""
    return {
        (rule.rule, method): rule
        for rule in app.url_map.iter_rules()
        if rule.endpoint != "static"
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }


def build_url(rule, people: dict) -> str:
    values = {}
    for argument in rule.arguments:
        source = TOKEN_ARGUMENT.get(rule.endpoint, argument) if argument == "token" else argument
        values[argument] = people[source]
    return rule.build(values, append_unknown=False)[1]


def outcome(response) -> str | int:
    """The status, with the redirect target's path for a redirect."""
    if response.status_code not in (301, 302, 303, 307, 308):
        return response.status_code
    return f"{response.status_code} {response.headers['Location'].split('?')[0]}"


def matches(expected: str | int, actual: str | int) -> bool:
    """A redirect is expected by its status and the start of its path."""
    if isinstance(expected, int) or isinstance(actual, int):
        return expected == actual
    return actual == expected if expected in (HOME, HOME_303) else actual.startswith(expected)


@pytest.fixture
def people(app):
    return make_people(app)


@pytest.fixture
def visitors(app, people):
    return {
        "anonymous": visitor(app),
        "customer": visitor(app, "customer@example.com"),
        "admin": visitor(app, "admin@example.com"),
    }


def test_the_table_lists_every_route_of_the_url_map_and_nothing_else(app):
    routes = set(url_map_routes(app))
    assert sorted(routes - set(ROUTES)) == [], "routes without an entry in ROUTES"
    assert sorted(set(ROUTES) - routes) == [], "entries for routes the app no longer has"


def wrong_answers(visitors, calls) -> list[str]:
    """Each (method, url, expected statuses) called by every role; the answers that differ."""
    wrong = []
    for method, url, statuses in calls:
        for role, expected in zip(ROLES, statuses, strict=True):
            person = visitors[role]
            data = {"csrf_token": person.csrf_token()} if method == "POST" else None
            actual = outcome(person.call(method, url, data))
            if not matches(expected, actual):
                wrong.append(f"{role} {method} {url}: {actual}, expected {expected}")
    return wrong


def test_every_route_answers_each_role_with_the_expected_status(app, people, visitors):
    calls = [
        (method, build_url(rule, people), ROUTES[(path, method)])
        for (path, method), rule in sorted(url_map_routes(app).items())
    ]
    assert wrong_answers(visitors, calls) == []


def test_head_answers_as_get_and_options_lists_the_methods_to_everyone(app, people, visitors):
    """Flask answers these two itself: HEAD runs the GET view, OPTIONS runs no view at all."""
    routes = url_map_routes(app)
    heads = [
        ("HEAD", build_url(rule, people), ROUTES[(path, "GET")])
        for (path, method), rule in sorted(routes.items())
        if method == "GET"
    ]
    options = [("OPTIONS", build_url(rule, people), (200, 200, 200)) for rule in routes.values()]
    assert wrong_answers(visitors, heads + options) == []


NEW_PASSWORD = "a brand new password"
# What each state-changing route accepts with a valid token: refused here for the token alone.
VALID_FORMS = {
    "/signup": {"email": "new@example.com", "password": NEW_PASSWORD},
    "/login": {"email": "customer@example.com", "password": PASSWORD},
    "/password/reset": {"email": "customer@example.com"},
    "/password/reset/<token>": {"password": NEW_PASSWORD},
    "/settings/password": {"current_password": PASSWORD, "new_password": NEW_PASSWORD},
    "/settings/email": {"email": "new@example.com", "password": PASSWORD},
    "/settings/delete": {"password": PASSWORD},
    "/contact": {"name": "Mallory", "email": "mallory@example.com", "message": "Hello there"},
    "/reports": {"kind": "account_export"},
    "/billing/checkout": {"plan": "pro"},
}
REFUSED = {LOGIN, HOME, 403, 404}


def acting_role(path: str) -> str:
    """The role the route serves (not one it turns away), so only the token is missing."""
    statuses = dict(zip(ROLES, ROUTES[(path, "POST")], strict=True))
    return next(
        role for role in ("customer", "admin", "anonymous") if statuses[role] not in REFUSED
    )


def state(app, person) -> dict:
    """Row counts of every table, the accounts, the queue and whether the visitor is logged in."""
    with app.app_context():
        counts = {
            table.name: db.session.scalar(db.select(db.func.count()).select_from(table))
            for table in db.metadata.sorted_tables
            if "limit" not in table.name  # a rate-limit store may count refused requests
        }
        users = db.session.execute(
            db.select(User.id, User.email, User.password_hash, User.active, User.role)
        ).all()
    logged_in = person.client.get("/settings").status_code == 200
    return {"rows": counts, "users": users, "queued": huey.pending_count(), "in": logged_in}


@pytest.mark.parametrize("token", ["missing", "foreign"])
def test_every_state_changing_route_refuses_a_missing_or_foreign_csrf_token(
    app, people, visitors, token
):
    foreign = visitor(app, "other@example.com").csrf_token()
    wrong = []
    for (path, method), rule in sorted(url_map_routes(app).items()):
        if method != "POST" or (path, method) in EXEMPT:
            continue
        person = visitors[acting_role(path)]
        data = dict(VALID_FORMS.get(path, {}))
        if token == "foreign":
            data["csrf_token"] = foreign
        before = state(app, person)
        status = person.client.post(build_url(rule, people), data=data).status_code
        if status != 400 or state(app, person) != before:
            wrong.append(
                f"{path} as {acting_role(path)}: {status}, changed: {state(app, person) != before}"
            )
    assert wrong == []
