"""Logging of every process ``eskit`` starts, configured in one place.

:func:`configure_logging` gives the root logger one handler on stderr, which every logger
(eskit's, uvicorn's, gRPC's, the drivers') reaches, in the format ``ESKIT_LOG_FORMAT``
names: ``text`` (one readable line per record) or ``json`` (one JSON object per line).
The handler's filters, in order:

- :class:`ContextFilter` adds what the work in hand concerns (:mod:`eskit.logcontext`:
  ``request_id``, ``correlation_id``, ``stream_id``, ``position``, ``projection``,
  ``consumer``, ``relay``) and, inside a valid OpenTelemetry span, ``trace_id`` and
  ``span_id``;
- :class:`AccessLogFilter` keeps query-string values out of uvicorn's access log (a search
  by e-mail address would otherwise write the address into every access line);
- :class:`RedactingFilter`, the safety net: known secret values (API keys, the passwords
  of the database and bus URLs), passwords in URLs and DSNs, bearer tokens, e-mail
  addresses and the input values pydantic quotes in its errors become ``***`` in the
  message and in tracebacks.
"""

from __future__ import annotations

import logging
import re
import sys
import threading
from collections.abc import Iterable
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, Literal, TextIO
from urllib.parse import parse_qs, urlsplit

from pythonjsonlogger.core import RESERVED_ATTRS
from pythonjsonlogger.json import JsonFormatter

from eskit.logcontext import CONTEXT_FIELDS, context_fields
from eskit.observability.tracing import current_trace_ids
from eskit.settings import EskitSettings

__all__ = [
    "LOG_FIELDS",
    "AccessLogFilter",
    "ContextFilter",
    "JsonLogFormatter",
    "RedactingFilter",
    "TextLogFormatter",
    "configure_logging",
    "logging_handler",
    "redact_query",
    "secrets_of",
]

LOG_FIELDS = (*CONTEXT_FIELDS, "trace_id", "span_id")
"""The context fields a record may carry, besides its own (time, level, logger, message)."""

LogFormat = Literal["text", "json"]

_REDACTED = "***"
_MIN_SECRET_LENGTH = 4
"""Shorter "secrets" are not searched for: they would blank out common words."""


def configure_logging(settings: EskitSettings, *, stream: TextIO | None = None) -> None:
    """Log every record of this process to stderr (or ``stream``) as ``settings`` say.

    Sets the root logger's level to ``ESKIT_LOG_LEVEL``, replaces the handler an earlier
    call installed (handlers others added stay), routes :mod:`warnings` and uncaught
    exceptions to the log, and redacts the secrets of ``settings`` (see :func:`secrets_of`).
    """
    handler = logging_handler(
        settings.log_format, secrets=secrets_of(settings), stream=stream or sys.stderr
    )
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, _MARK, False)]:
        root.removeHandler(old)
        old.close()
    root.addHandler(handler)
    root.setLevel(settings.log_level)
    logging.captureWarnings(True)
    sys.excepthook = _log_uncaught
    threading.excepthook = _log_uncaught_in_thread


_MARK = "_eskit_handler"


def logging_handler(
    log_format: LogFormat = "text", *, secrets: Iterable[str] = (), stream: TextIO | None = None
) -> logging.Handler:
    """A handler writing to ``stream`` (stderr) in ``log_format``, with eskit's filters."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonLogFormatter() if log_format == "json" else TextLogFormatter())
    handler.addFilter(ContextFilter())
    handler.addFilter(AccessLogFilter())
    handler.addFilter(RedactingFilter(secrets))
    setattr(handler, _MARK, True)
    return handler


def secrets_of(settings: EskitSettings) -> list[str]:
    """The secret values ``settings`` hold: the API keys and the passwords of the URLs."""
    found = [key.get_secret_value() for key in settings.api_keys]
    found += [p for url in (settings.database_url, settings.bus_url) if (p := _password(url))]
    return found


def _password(url: str) -> str | None:
    try:
        parts = urlsplit(url)
        given = parse_qs(parts.query).get("password")
        return parts.password or (given[0] if given else None)
    except ValueError:  # not a URL: nothing to find in it
        return None


# -- filters -------------------------------------------------------------------------------


class ContextFilter(logging.Filter):
    """Adds the bound context fields and the current span's ids to each record.

    A field the record already has (passed with ``extra=``) is kept. Outside a valid span
    (tracing off) the span costs one context lookup.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        values = record.__dict__
        for name, value in context_fields().items():
            values.setdefault(name, value)
        ids = current_trace_ids()
        if ids is not None:
            values.setdefault("trace_id", ids[0])
            values.setdefault("span_id", ids[1])
        return True


class AccessLogFilter(logging.Filter):
    """Replaces query-string values in uvicorn's access log lines by ``***``.

    uvicorn logs ``client - "METHOD path?query HTTP/v" status``; the names of the
    parameters stay, so a line still says what kind of request it was.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if record.name == "uvicorn.access" and isinstance(args, tuple) and len(args) == 5:
            path = args[2]
            if isinstance(path, str) and "?" in path:
                record.args = (args[0], args[1], redact_query(path), args[3], args[4])
        return True


def redact_query(path: str) -> str:
    """``path`` with the value of each query parameter replaced by ``***``."""
    path, _, query = path.partition("?")
    names = [part.partition("=")[0] for part in query.split("&") if part]
    return f"{path}?{'&'.join(f'{name}={_REDACTED}' for name in names)}"


_PATTERNS: tuple[tuple[tuple[str, ...], re.Pattern[str], str], ...] = (
    # (lower-case substrings without one of which the pattern cannot match: most lines
    # skip the regexes, which cost microseconds each)
    # the password of a URL: scheme://user:password@host
    (("://",), re.compile(r"(://[^/\s:@]*:)[^@/\s]*@"), rf"\1{_REDACTED}@"),
    # a DSN's or a query's password=...
    (("passw", "pwd"), re.compile(r"(?i)\b(password|passwd|pwd)=[^\s&'\"]+"), rf"\1={_REDACTED}"),
    # credentials of an Authorization header
    (
        ("bearer", "basic"),
        re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]+"),
        rf"\1 {_REDACTED}",
    ),
    # pydantic's errors quote the input they refused: personal data, often
    (
        ("input_value=",),
        re.compile(r"input_value=.*?, input_type="),
        f"input_value={_REDACTED}, input_type=",
    ),
    (
        ("@",),
        re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}"),
        "***@***",
    ),
)


class RedactingFilter(logging.Filter):
    """Replaces secrets and personal data in a record's message and traceback by ``***``.

    Searched for: each of ``secrets`` (of at least four characters), URL and DSN
    passwords, bearer and basic credentials, e-mail addresses, and the input values
    pydantic quotes in validation errors. The message is formatted here (its arguments
    merged in) and the traceback rendered, so that no formatter sees the originals.
    A safety net: code should not log such data in the first place.
    """

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        known = sorted({s for s in secrets if len(s) >= _MIN_SECRET_LENGTH}, key=len, reverse=True)
        self._secrets = re.compile("|".join(map(re.escape, known))) if known else None

    def redact(self, text: str) -> str:
        """``text`` with every secret and personal datum this filter knows replaced."""
        if self._secrets is not None:
            text = self._secrets.sub(_REDACTED, text)
        lowered = text.lower()
        for needed, pattern, replacement in _PATTERNS:
            for part in needed:
                if part in lowered:
                    text = pattern.sub(replacement, text)
                    break
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            record.msg = self.redact(record.getMessage())
            record.args = None
            if record.exc_info:
                record.exc_text = _TRACEBACKS.formatException(record.exc_info)
                record.exc_info = None
            if record.exc_text:
                record.exc_text = self.redact(record.exc_text)
            if record.stack_info:
                record.stack_info = self.redact(record.stack_info)
        except Exception:  # a record that cannot be formatted: the handler reports it
            return True
        return True


_TRACEBACKS = logging.Formatter()


# -- formatters ----------------------------------------------------------------------------


class TextLogFormatter(logging.Formatter):
    """``time LEVEL process logger: message [field=value ...]``, one line per record (and
    the traceback after it)."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(processName)s %(name)s: %(message)s")

    def formatMessage(self, record: logging.LogRecord) -> str:  # noqa: N802 - logging's name
        line = super().formatMessage(record)
        values = record.__dict__
        fields = " ".join(f"{name}={values[name]}" for name in LOG_FIELDS if name in values)
        return f"{line} [{fields}]" if fields else line


class JsonLogFormatter(JsonFormatter):
    """One JSON object per record: ``timestamp`` (ISO 8601, UTC), ``level``, ``logger``,
    ``message``, ``process`` (the pid), ``process_name``, the context fields that are set,
    fields passed with ``extra=``, and ``exc_info`` (the traceback) when there is one."""

    def __init__(self) -> None:
        super().__init__(
            "{levelname}{name}{message}{process}{processName}",
            style="{",
            rename_fields={"levelname": "level", "name": "logger", "processName": "process_name"},
            reserved_attrs=[*RESERVED_ATTRS, "color_message"],  # uvicorn's coloured copy
        )

    def add_fields(
        self,
        log_data: dict[str, Any],
        record: logging.LogRecord,
        message_dict: dict[str, Any],
    ) -> None:
        """The record's fields, the timestamp first."""
        log_data["timestamp"] = datetime.fromtimestamp(record.created, tz=UTC).isoformat()
        super().add_fields(log_data, record, message_dict)


# -- uncaught exceptions -------------------------------------------------------------------

_uncaught = logging.getLogger("eskit.uncaught")


def _log_uncaught(kind: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
    if issubclass(kind, KeyboardInterrupt):
        sys.__excepthook__(kind, exc, tb)
        return
    _uncaught.critical("uncaught exception", exc_info=(kind, exc, tb))


def _log_uncaught_in_thread(args: threading.ExceptHookArgs) -> None:
    if args.exc_value is None or issubclass(args.exc_type, SystemExit):
        return
    name = args.thread.name if args.thread is not None else "?"
    _uncaught.critical(
        "uncaught exception in thread %s",
        name,
        exc_info=(args.exc_type, args.exc_value, args.exc_traceback),
    )
