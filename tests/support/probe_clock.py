"""The product's app with its clock fixed at PROBE_FIXED_NOW (an ISO 8601 moment with its
offset) when that is set, as the `fixed_clock` fixture fixes it in the test's own process:
`flask --app tests.support.probe_clock ...`, `gunicorn "tests.support.probe_clock:create_app()"`;
the worker probe applies the same clock. Only test probes read this variable, never product code."""

import os
from datetime import datetime

from saas import create_app as create_saas_app
from saas.jobs import clock

FIXED_NOW_VARIABLE = "PROBE_FIXED_NOW"


def fix_clock_from_environment() -> None:
    if value := os.environ.get(FIXED_NOW_VARIABLE):
        moment = datetime.fromisoformat(value)
        clock.now = lambda: moment


def create_app():
    fix_clock_from_environment()
    return create_saas_app()
