"""Logs: security events, and the JSON line format `sekisho serve --log-format json` writes.

A security event is a WARNING on the `sekisho.security` logger with its fields attached (`record.fields`): names
and ids only — never a token, a code, a password or a secret.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any

security = logging.getLogger("sekisho.security")


def security_event(event: str, **fields: str | int | None) -> None:
    """`refresh_token_reuse`, `authorization_code_replay`, `login_failed`, `login_throttled`, `login_delayed`,
    `ssrf_refused`, `registration_throttled`."""
    shown = " ".join(f"{name}={value}" for name, value in fields.items())
    security.warning("security event %s %s", event, shown, extra={"fields": {"event": event, **fields}})


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, and the record's `fields` when it has them."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update(getattr(record, "fields", {}))
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


def log_config(log_format: str, *, access_log: bool) -> dict[str, Any]:
    """A logging.dictConfig for uvicorn (and its workers): text lines, or JSON lines with sekisho's own request log
    in place of uvicorn's access log."""
    formatter: dict[str, Any] = (
        {"()": f"{__name__}.JsonFormatter"}
        if log_format == "json"
        else {"format": "%(levelname)s %(name)s: %(message)s"}
    )
    access = {
        "uvicorn.access": {
            "level": "INFO" if access_log and log_format != "json" else "WARNING",
            "filters": ["redact"],  # codes and tokens in query strings never reach the log
        }
    }
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"default": formatter},
        "filters": {"redact": {"()": "sekisho.server.web.observe.RedactAccessLog"}},
        "handlers": {
            "default": {"class": "logging.StreamHandler", "formatter": "default", "stream": "ext://sys.stderr"}
        },
        "root": {"handlers": ["default"], "level": "INFO"},
        "loggers": {
            "uvicorn": {"level": "INFO", "handlers": [], "propagate": True},
            "alembic": {"level": "WARNING"},  # one INFO line per migration step is noise at every start
            **access,
        },
    }
