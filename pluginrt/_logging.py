"""Log redaction: API keys, the management key and credential headers never reach a log.

One process-wide :data:`REDACTOR` (a :class:`logging.Filter`) rewrites every
record it sees: the secrets it was given (the configured API keys and
management key) become ``[redacted]`` wherever they appear, and so do the
values of ``Authorization``, ``Proxy-Authorization``, ``X-Api-Key``,
``X-Goog-Api-Key`` and ``X-Management-Key`` headers (``Bearer sk-...`` ->
``Bearer [redacted]``) and of ``key=`` / ``api_key=`` query parameters,
in any of the spellings a log line shows them (``Name: value``, a dict or
JSON ``"name": "value"``, a ``(b"name", b"value")`` pair).

:func:`open_host` registers its config's secrets and protects the
``pluginrt`` loggers (a plugin's stderr and ``host.log`` lines included);
``pluginrt run`` also puts the filter on its log handlers, so records of any
logger are covered. A library embedding pluginrt with its own handlers may
call :func:`protect_handlers` too.
"""

from __future__ import annotations

import logging
import re
import threading
from collections import Counter
from collections.abc import Iterable
from typing import Final

__all__ = ["REDACTED", "REDACTOR", "Redactor", "protect_handlers", "protect_loggers", "redact"]

REDACTED: Final = "[redacted]"
#: Shorter secrets are not redacted by value (they would blank out ordinary words).
MIN_SECRET: Final = 4

_HEADERS = r"(?:proxy-authorization|authorization|x-api-key|x-goog-api-key|x-management-key)"
_HEADER_VALUE = re.compile(
    r"(?P<name>(?<![\w-])" + _HEADERS + r")"
    # The separator: ``: ``, ``=``, ``": "``, ``': ['``, ``', b'`` ...
    r"(?P<sep>(?>['\"]?\s*[:=,]\s*[\[(]?\s*(?-i:b)?['\"]?))"
    r"(?:(?P<scheme>bearer|basic|token|digest)\s+)?"
    # Never a scheme alone, never an already redacted value (a second pass changes nothing).
    r"(?!(?:bearer|basic|token|digest)\s+\[redacted\])(?!redacted\])"
    r"(?P<value>[^\s'\",;\[\])}&]+)",
    re.IGNORECASE,
)
#: ``Bearer <token>`` wherever it appears, header name or not.
_BEARER = re.compile(r"(?P<name>(?<![\w-])bearer\s+)(?P<value>[^\s'\",;\[\])}&]+)", re.IGNORECASE)
_QUERY_VALUE = re.compile(
    r"(?P<name>(?<![\w-])(?:api[_-]?)?key=)(?P<value>[^\s&'\",;#\[\])}]+)", re.IGNORECASE
)


def _header(match: re.Match[str]) -> str:
    scheme = match.group("scheme")
    prefix = match.group("name") + match.group("sep") + (f"{scheme} " if scheme else "")
    return prefix + REDACTED


def _query(match: re.Match[str]) -> str:
    return match.group("name") + REDACTED


class Redactor(logging.Filter):
    """A filter that redacts known secrets and credential values in each record (never drops one).

    Secrets are counted: :meth:`add` and :meth:`remove` pair up, so two hosts
    in one process each keep theirs redacted until they close.
    """

    def __init__(self) -> None:
        super().__init__()
        self._secrets: Counter[str] = Counter()
        self._pattern: re.Pattern[str] | None = None
        self._lock = threading.Lock()

    def add(self, secrets: Iterable[str]) -> list[str]:
        """Redact ``secrets`` from now on; returns the ones taken (pass them to :meth:`remove`)."""
        taken = [s for s in secrets if isinstance(s, str) and len(s) >= MIN_SECRET]
        with self._lock:
            self._secrets.update(taken)
            self._compile()
        return taken

    def remove(self, secrets: Iterable[str]) -> None:
        with self._lock:
            self._secrets.subtract(secrets)
            self._secrets = +self._secrets
            self._compile()

    def _compile(self) -> None:
        names = sorted(self._secrets, key=len, reverse=True)
        self._pattern = re.compile("|".join(map(re.escape, names))) if names else None

    def redact(self, text: str) -> str:
        """``text`` with every secret and credential value replaced by ``[redacted]``."""
        if ":" in text or "=" in text or "," in text:
            text = _HEADER_VALUE.sub(_header, text)
        if "=" in text:
            text = _QUERY_VALUE.sub(_query, text)
        text = _BEARER.sub(_query, text)
        pattern = self._pattern
        if pattern is not None:
            text = pattern.sub(REDACTED, text)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a bad format string: leave it to the handler to report
            return True
        cleaned = self.redact(message)
        if cleaned != message or record.args:
            record.msg, record.args = cleaned, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        if record.stack_info:
            record.stack_info = self.redact(record.stack_info)
        return True


#: The process-wide redactor every pluginrt logger and ``pluginrt run`` handler carries.
REDACTOR: Final = Redactor()


def redact(text: str) -> str:
    """``text`` as :data:`REDACTOR` would log it."""
    return REDACTOR.redact(text)


def _protect(target: logging.Logger | logging.Handler) -> None:
    if REDACTOR not in target.filters:
        target.addFilter(REDACTOR)


def protect_loggers(*names: str) -> None:
    """Put :data:`REDACTOR` on ``names`` and on every ``pluginrt`` logger that exists.

    A logger's filters see only records logged to it (not its children's), so
    each one gets the filter; loggers created later are protected when a host
    starts a plugin or opens.
    """
    existing = [
        name
        for name, value in list(logging.Logger.manager.loggerDict.items())
        if isinstance(value, logging.Logger) and name.startswith("pluginrt.")
    ]
    for name in {"pluginrt", *existing, *names}:
        _protect(logging.getLogger(name))


def protect_handlers(logger: logging.Logger | None = None) -> None:
    """Put :data:`REDACTOR` on the handlers of ``logger`` (the root logger by default)."""
    for handler in (logger or logging.getLogger()).handlers:
        _protect(handler)
