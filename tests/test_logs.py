"""LOG_FORMAT=json: the real worker writes one JSON object a line (its startup lines and Huey's
included), and a task's lines name the row it works on."""

import json
import logging

import pytest

from saas import create_app
from saas.config import ConfigurationError
from saas.extensions import db
from saas.mail import send_email
from saas.mail.models import OutboundEmail
from tests.support.waiting import wait_until


def test_the_worker_logs_json_lines_that_name_the_email(app, start_worker, mailbox, tmp_path):
    with app.app_context():
        email = send_email(to="ada@example.com", template="password_changed")
        db.session.commit()
        email_id = email.id
    start_worker(LOG_FORMAT="json")
    mailbox.wait_for(1)
    log = tmp_path / "worker-0.log"
    wait_until(lambda: " sent via " in log.read_text())
    with app.app_context():
        assert db.session.get(OutboundEmail, email_id).status == "sent"
    text = log.read_text()
    lines = text[: text.rfind("\n")].splitlines()  # whole lines: the worker is still writing
    entries = [json.loads(line) for line in lines]  # every line is one JSON object
    assert all({"timestamp", "level", "logger", "message"} <= entry.keys() for entry in entries)
    assert any(entry["logger"].startswith("huey") for entry in entries)  # Huey's lines too
    [sent] = [entry for entry in entries if " sent via " in entry["message"]]
    assert (sent["level"], sent["logger"], sent["email_id"]) == (
        "INFO",
        "saas.mail.tasks",
        email_id,
    )


def test_an_unknown_log_format_is_refused(app_env, monkeypatch):
    monkeypatch.setenv("LOG_FORMAT", "xml")
    with pytest.raises(ConfigurationError, match="LOG_FORMAT must be text or json"):
        create_app({"TESTING": True})


@pytest.mark.parametrize("level", ["INFO", "DEBUG"])
def test_hueys_per_task_lines_are_not_even_built_above_debug(app_env, monkeypatch, level):
    monkeypatch.setenv("LOG_LEVEL", level)
    create_app({"TESTING": True})
    assert logging.getLogger("huey").isEnabledFor(logging.INFO) is (level == "DEBUG")
    assert logging.getLogger("huey").isEnabledFor(logging.WARNING)
    assert logging.getLogger("huey.consumer").isEnabledFor(logging.INFO)  # started, stopping
