"""Logging: plain text for a terminal, JSON lines for a log pipeline (``[server] log_format``)."""

from __future__ import annotations

import contextvars
import json
import logging
import sys
from datetime import UTC, datetime

# The id of the request being served (set by the web layer), for every log line written meanwhile.
request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)


# The attributes every LogRecord has; any other was passed in ``extra=`` and is a field of its own.
_RECORD_ATTRIBUTES = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime", "taskName"}


class JSONFormatter(logging.Formatter):
    """One JSON object per line; a value passed in ``extra=`` (``delivery_id``, ``status``…) is a field."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = request_id_var.get()
        if request_id:
            entry["request_id"] = request_id
        entry.update((k, v) for k, v in record.__dict__.items() if k not in _RECORD_ATTRIBUTES and k not in entry)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        request_id = request_id_var.get()
        return f"{line} [{request_id}]" if request_id else line


def configure_logging(fmt: str = "text", level: str = "info") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JSONFormatter() if fmt == "json" else TextFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "arq"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    # Each request is in the audit log already; uvicorn's access log would repeat it, and
    # httpx's per-request lines would write destination URLs (with tokens, for some) to the log.
    logging.getLogger("uvicorn.access").setLevel(logging.WARNING)
    # arq writes two info lines per job run (every cron run, every minute); debug shows them.
    arq_level = logging.NOTSET if level.lower() == "debug" else logging.WARNING
    for name in ("arq.worker", "arq.jobs"):
        logging.getLogger(name).setLevel(arq_level)
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("httpcore").setLevel(logging.WARNING)
