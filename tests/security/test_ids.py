"""An integer in a URL larger than any id a column can hold is a 404 for every route and role,
never the database's out-of-range error (a 500 on PostgreSQL before)."""

import re

from tests.security.test_routes import ROLES, url_map_routes
from tests.support.visitors import make_people, visitor

HUGE = "9" * 30


def test_every_integer_argument_beyond_an_id_column_is_404(app):
    people = make_people(app)
    visitors = {
        role: visitor(app, email)
        for role, email in zip(
            ROLES, (None, "customer@example.com", "admin@example.com"), strict=True
        )
    }
    routes = [(path, method) for path, method in url_map_routes(app) if "<int:" in path]
    assert routes  # the console's pages and actions by id
    wrong = []
    for path, method in sorted(routes):
        url = re.sub(r"<int:\w+>", HUGE, path)
        url = re.sub(r"<(\w+)>", lambda match: str(people.get(match[1], "x")), url)
        for role, person in visitors.items():
            data = {"csrf_token": person.csrf_token()} if method == "POST" else None
            status = person.client.open(url, method=method, data=data).status_code
            if status != 404:
                wrong.append(f"{role} {method} {url}: {status}")
    assert wrong == []
