"""How every process logs: text lines, or with LOG_FORMAT=json one JSON object a line for log
platforms (timestamp, level, logger, message, and the id of the row a task works on). A leaf:
it imports nothing from saas, so the job layer can name the work it does."""

import json
import logging
from contextvars import ContextVar
from datetime import UTC, datetime

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# The row the running task works on, e.g. {"email_id": 42}: set by saas.jobs.lifecycle.
WORK: ContextVar[dict | None] = ContextVar("work", default=None)


def level_for(result) -> int:
    """INFO for a run that did something, DEBUG for one whose result counts nothing (None, or
    only zeros, empties and Nones): an idle system's every-minute jobs say nothing at INFO."""
    values = result.values() if isinstance(result, dict) else [result]
    return (
        logging.INFO
        if any(value not in (None, 0, False, "", [], {}) for value in values)
        else logging.DEBUG
    )


class WorkIds(logging.Filter):
    """Adds the ids of the work in progress to each record (record.work)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.work = WORK.get() or {}
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "timestamp": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            **getattr(record, "work", {}),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def configure(level: str, log_format: str) -> None:
    """The root logger's one handler, in the chosen format; every logger of the process (Huey's
    included, see FlaskHuey.create_consumer) writes through it."""
    root = logging.getLogger()
    if not any(getattr(handler, "saas", False) for handler in root.handlers):
        handler = logging.StreamHandler()
        handler.saas = True
        handler.addFilter(WorkIds())
        root.addHandler(handler)
    for handler in root.handlers:
        if getattr(handler, "saas", False):
            handler.setFormatter(
                JsonFormatter() if log_format == "json" else logging.Formatter(TEXT_FORMAT)
            )
    root.setLevel(level)
