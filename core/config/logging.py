"""Logging: plain text for a terminal, JSON lines for a log pipeline (``[server] log_format``)."""

from __future__ import annotations

import contextvars
import json
import logging
import sys
import traceback
from datetime import UTC, datetime

from core.redaction import mask_text

# The id of the request being served (set by the web layer), for every log line written meanwhile.
request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)


# The attributes every LogRecord has; any other was passed in ``extra=`` and is a field of its own.
_RECORD_ATTRIBUTES = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime", "taskName"}


# Loggers of libraries that would write the data they carry (SQL parameters, URLs with query
# strings, request and mail bodies) at info or debug; kept at warning even with log_level = "debug".
DATA_ECHOING_LIBRARIES = (
    "aiosqlite",
    "asyncpg",
    "sqlalchemy",
    "httpx",
    "httpcore",
    "hpack",
    "multipart",
    "python_multipart",
    "aiosmtplib",
    "mail.log",
    "botocore",
    "boto3",
    "s3transfer",
    "urllib3",
    "aiobotocore",
)


# Both formats mask what looks like a phone number written with its "+" or an e-mail address
# (core.mask): a last line of defence. The code that logs is the first: it logs ids, never a
# message's text, a name, a number or a far side's answer, which no pattern can recognise.


class JSONFormatter(logging.Formatter):
    """One JSON object per line; a value passed in ``extra=`` (``delivery_id``, ``status``…) is a field."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": mask_text(record.getMessage()),
        }
        request_id = request_id_var.get()
        if request_id:
            entry["request_id"] = request_id
        entry.update(
            (k, mask_text(v) if isinstance(v, str) else v)
            for k, v in record.__dict__.items()
            if k not in _RECORD_ATTRIBUTES and k not in entry
        )
        if record.exc_info:
            entry["exception"] = mask_text(self.formatException(record.exc_info))
        return json.dumps(entry, default=str)


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = mask_text(super().format(record))
        request_id = request_id_var.get()
        return f"{line} [{request_id}]" if request_id else line


def traceback_of(err: BaseException) -> str:
    """``err``'s type and traceback (file, line, code of each frame) without its message.

    For a log line about an exception raised while handling a message: an exception's message
    often quotes the value it choked on (``KeyError('+256…')``), which may be personal data.
    """
    frames = "".join(traceback.format_tb(err.__traceback__)).rstrip()
    return f"{type(err).__name__} (message not logged)" + (f"\n{frames}" if frames else "")


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
    # Alembic lists its autogenerate plugins at info each time a schema check loads it (at the
    # start of serve and worker); its migration lines ("Running upgrade …") stay.
    for name in ("arq.worker", "arq.jobs", "alembic.runtime.plugins"):
        logging.getLogger(name).setLevel(arq_level)
    # Libraries whose debug and info lines repeat the data passing through them (SQL parameters,
    # URLs, request bodies, mail): personal data. Their warnings and errors still show.
    for name in DATA_ECHOING_LIBRARIES:
        logging.getLogger(name).setLevel(logging.WARNING)
