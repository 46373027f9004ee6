"""No personal data and no secrets in log lines: one filter for every process we run.

:class:`PiiLogFilter` masks a record in place: the PII of :mod:`personalization.privacy.pii`
(phones, ID numbers, bank cards, e-mails, order numbers, addresses) and secret query parameters
(``token=…``, ``password=…``; the member tokens of the widget's socket URL, Rasa's ``?token=``)
in the message, its arguments, the traceback text and the stack text.

:func:`install` applies it to every record the process creates, through the log-record factory:
attaching a filter to handlers is not enough, because uvicorn, Sanic and Rasa add their handlers
after our ``main()`` ran (and a filter on the root *logger* never sees records of child loggers).
It also attaches the filter to the root handlers already present (records made without the
factory, e.g. ``logging.makeLogRecord``). Installed by: the web app (:func:`web.logs.install`),
the action server (``python -m actions``), the Rasa server (``python -m rasa_ext``) and the
launcher (``python -m launcher``).

Only the standard library and :mod:`personalization.privacy.pii`: the Rasa server imports it.
"""

from __future__ import annotations

import logging
import re
import traceback
from collections.abc import Callable, Mapping
from typing import Any

from personalization.privacy.pii import mask_text

__all__ = ["PiiLogFilter", "clean", "install", "mask_record", "uninstall"]

# Secret query parameters and "key=value" pairs in log lines.
_SECRET = re.compile(r"((?<![A-Za-z_])(?:token|auth_token|access_token|password|secret)=)[^&\s\"']+", re.IGNORECASE)
_MARK = "_pii_masked"


# JSON's \uXXXX escapes (Rasa's structlog renders events as ASCII JSON): "证" + an ID number is
# "\u8bc1110101…", whose escape would glue its hex digits to the number and hide it from the patterns.
_JSON_ESCAPE = re.compile(r"\\u([dD][89abAB][0-9a-fA-F]{2})\\u([dD][c-fC-F][0-9a-fA-F]{2})|\\u([0-9a-fA-F]{4})")


def _unescape(match: re.Match[str]) -> str:
    if match.group(1):  # a surrogate pair: one character outside the BMP (an emoji)
        high, low = int(match.group(1), 16), int(match.group(2), 16)
        return chr(0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00))
    code = int(match.group(3), 16)
    if 0xD800 <= code <= 0xDFFF or code < 0x20 or chr(code) in "\"\\":
        return match.group(0)  # surrogate halves, control characters and quotes stay escaped
    return chr(code)


def clean(text: str) -> str:
    """``text`` with its personal data masked and secret parameters replaced by ``***``.

    JSON ``\\uXXXX`` escapes of printable characters are written out first (so log lines of Rasa's
    JSON renderer are masked like any other, and read as Chinese).
    """
    if "\\u" in text:
        text = _JSON_ESCAPE.sub(_unescape, text)
    return _SECRET.sub(r"\1***", mask_text(text))


def _clean_arg(value: Any) -> Any:
    return clean(value) if isinstance(value, str) else value


def mask_record(record: logging.LogRecord) -> logging.LogRecord:
    """Mask ``record`` in place (once; a second call does nothing) and return it.

    String arguments are masked one by one, so formatters that read ``record.args`` (uvicorn's
    access log) keep working; when the formatted message still holds something (PII split across
    the format and an argument, a number or an object whose text is personal), the record is
    collapsed into its masked message with no arguments.
    """
    if getattr(record, _MARK, False):
        return record
    try:
        if isinstance(record.msg, str):
            record.msg = clean(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(_clean_arg(a) for a in record.args)
        elif isinstance(record.args, Mapping):
            record.args = {k: _clean_arg(v) for k, v in record.args.items()}
        try:
            message = record.getMessage()
        except Exception:  # a broken format string: log what we can, masked
            message = None
            record.msg, record.args = clean(f"{record.msg} {record.args!r}"), ()
        if message is not None and clean(message) != message:
            record.msg, record.args = clean(message), ()
        if record.exc_info and not record.exc_text:
            record.exc_text = "".join(traceback.format_exception(*record.exc_info)).rstrip("\n")
        if record.exc_text:
            record.exc_text = clean(record.exc_text)
        if record.stack_info:
            record.stack_info = clean(record.stack_info)
    except Exception:  # never lose a log line to the filter; but never let it through unmasked
        record.msg, record.args = "[log record dropped by the PII filter: could not mask it]", ()
    setattr(record, _MARK, True)
    return record


class PiiLogFilter(logging.Filter):
    """A :class:`logging.Filter` that masks personal data and secrets in every record it sees."""

    def filter(self, record: logging.LogRecord) -> bool:
        mask_record(record)
        return True


_FILTER = PiiLogFilter()
_previous_factory: Callable[..., logging.LogRecord] | None = None


def install(logger_names: tuple[str, ...] = ()) -> PiiLogFilter:
    """Mask every log record of this process from now on (idempotent); returns the filter.

    Args:
        logger_names: loggers whose handlers (present now) also get the filter, besides the root's.
    """
    global _previous_factory
    current = logging.getLogRecordFactory()
    if not getattr(current, _MARK, False):
        _previous_factory = current

        def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
            return mask_record(current(*args, **kwargs))

        setattr(factory, _MARK, True)
        logging.setLogRecordFactory(factory)
    for name in ("", *logger_names):
        for handler in logging.getLogger(name or None).handlers:
            if _FILTER not in handler.filters:
                handler.addFilter(_FILTER)
    return _FILTER


def uninstall() -> None:
    """Undo :func:`install` (tests)."""
    global _previous_factory
    if _previous_factory is not None and getattr(logging.getLogRecordFactory(), _MARK, False):
        logging.setLogRecordFactory(_previous_factory)
        _previous_factory = None
    for logger in [logging.getLogger(), *(logging.getLogger(n) for n in list(logging.root.manager.loggerDict))]:
        for handler in getattr(logger, "handlers", []):
            handler.removeFilter(_FILTER)
        if isinstance(logger, logging.Logger):
            logger.removeFilter(_FILTER)
