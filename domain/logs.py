"""Structured logging: one line per event, with the correlation ids bound in contextvars.

``bind(request_id=...)`` in a request, WebSocket session or actor message makes every line logged
while it runs carry that id. ``event(log, "name", key=value)`` writes one structured line.

Values often carry what clients sent (a login name, a frame type), so the text format never lets one
forge a line or a field: a value with whitespace, ``=``, quotes, backslashes, control characters or
lone surrogates is written as a JSON string (``identifier="a user_id=x\\n…"``), and every line of an
exception is indented under its record.
"""
from __future__ import annotations

import contextvars
import json
import logging
import re
import sys
import time
from contextlib import contextmanager
from typing import Any, Iterator

_context: contextvars.ContextVar[dict[str, Any]] = contextvars.ContextVar("confab_log_context", default={})

#: Fields never written to a log line, whatever the caller passes.
SECRET_FIELDS = frozenset({"password", "token", "access_token", "refresh_token", "jwt_secret", "key", "secret"})


_URL_PASSWORD = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*://[^/@\s:]*:)[^/\s]*@")  # to the last @, like urlsplit


def redact_urls(text: str) -> str:
    """``text`` with the password of every URL in it (``scheme://user:password@host``) replaced by ``***``."""
    return _URL_PASSWORD.sub(r"\1***@", text)


def bind(**fields: Any) -> contextvars.Token:
    """Add correlation fields to the current context; returns a token for ``unbind``."""
    return _context.set({**_context.get(), **fields})


def unbind(token: contextvars.Token) -> None:
    _context.reset(token)


@contextmanager
def bound(**fields: Any) -> Iterator[None]:
    token = bind(**fields)
    try:
        yield
    finally:
        unbind(token)


def current() -> dict[str, Any]:
    return dict(_context.get())


def event(log: logging.Logger, name: str, /, level: int = logging.INFO, exc_info: Any = None, **fields: Any) -> None:
    """Log one structured event line."""
    if log.isEnabledFor(level):
        log.log(level, name, extra={"fields": fields}, exc_info=exc_info)


def _clean(fields: dict[str, Any]) -> dict[str, Any]:
    return {k: ("[redacted]" if k in SECRET_FIELDS else v) for k, v in fields.items()}


def _timestamp(record: logging.LogRecord) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z"


class _ContextFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.context = _context.get()
        return True


_BARE = re.compile(r'[^\s"=\\\x00-\x1f\x7f-\x9f\ud800-\udfff]+')
_CONTROLS = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]")


def _escape_controls(text: str) -> str:
    return _CONTROLS.sub(lambda found: f"\\u{ord(found.group()):04x}", text)


def text_value(value: Any) -> str:
    """``value`` as it may appear after ``key=`` in a text line: bare when harmless, else a JSON string."""
    text = str(value)
    if _BARE.fullmatch(text):
        return text
    return _escape_controls(json.dumps(text, ensure_ascii=False))


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        fields = {**getattr(record, "context", {}), **_clean(getattr(record, "fields", {}))}
        extra = " ".join(f"{k}={text_value(v)}" for k, v in fields.items())
        line = f"{_timestamp(record)} {record.levelname:<7} {record.name} {_escape_controls(record.getMessage())}"
        if extra:
            line += " " + extra
        if record.exc_info:
            trace = self.formatException(record.exc_info).replace("\r", "\\r")
            line += "".join("\n  " + part for part in trace.split("\n"))
        return line


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        body = {"ts": _timestamp(record), "level": record.levelname, "logger": record.name,
                "event": record.getMessage(), **getattr(record, "context", {}),
                **_clean(getattr(record, "fields", {}))}
        if record.exc_info:
            body["exception"] = self.formatException(record.exc_info)
        return json.dumps(body, default=str, ensure_ascii=False)


def configure(level: str = "INFO", fmt: str = "text", stream: Any = None) -> None:
    """Route every logger through one handler with the chosen format."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    handler.addFilter(_ContextFilter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    for noisy in ("pykka", "urllib3", "werkzeug"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))


def flush() -> None:
    for handler in logging.getLogger().handlers:
        handler.flush()
