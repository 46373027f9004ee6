"""Log hygiene: member tokens in socket URLs (``?token=…``) never reach the logs."""

from __future__ import annotations

import logging
import re

_TOKEN = re.compile(r"(token=)[^&\s\"']+")


class RedactTokens(logging.Filter):
    """Replaces the value of every ``token=`` query parameter in a log line with ``***``."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string is not ours to fix here
            return True
        if "token=" in message:
            record.msg, record.args = _TOKEN.sub(r"\1***", message), ()
        return True


def install(logger_names: tuple[str, ...] = ("uvicorn.error", "uvicorn.access", "uvicorn")) -> None:
    """Attach :class:`RedactTokens` to uvicorn's loggers and their handlers."""
    redact = RedactTokens()
    for name in logger_names:
        logger = logging.getLogger(name)
        logger.addFilter(redact)
        for handler in logger.handlers:
            handler.addFilter(redact)
