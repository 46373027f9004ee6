"""Log hygiene of the web app: no personal data and no member tokens (``?token=…``) in log lines.

The filter itself is :class:`personalization.privacy.log_filter.PiiLogFilter` (one place for the
PII patterns and the ``token=`` redaction); ``RedactTokens`` is its old name here.
"""

from __future__ import annotations

from personalization.privacy import log_filter
from personalization.privacy.log_filter import PiiLogFilter

RedactTokens = PiiLogFilter

__all__ = ["PiiLogFilter", "RedactTokens", "install"]


def install(logger_names: tuple[str, ...] = ("uvicorn.error", "uvicorn.access", "uvicorn")) -> None:
    """Mask every log record of the process, and put the filter on uvicorn's loggers' handlers."""
    log_filter.install(logger_names)
