"""Keep secrets and sensitive personal data out of the logs.

``RedactSecrets`` is a ``logging.Filter`` attached to every handler in
``settings.LOGGING``. It rewrites each record before any handler formats it:
the message with its arguments, string values passed as ``extra``, the
exception text and the stack text. It removes

- ``Authorization`` headers, bearer tokens and personal API tokens (``rdk_…``);
- the value of any field whose name says it is secret or sensitive: passwords,
  session ids, CSRF tokens, API keys, the secret key, master keys, national
  ids, social security numbers, bank accounts, IBANs, card numbers — in
  ``name=value``, ``name: value``, JSON (``"name": "value"``) and Python
  (``'name': 'value'``) form;
- values that look sensitive whatever their label: US social security
  numbers, IBANs, card numbers (Luhn-checked);
- the literal values of ``SECRET_KEY``, its fallbacks and any ``*MASTER_KEY*``
  setting or environment variable.

A record's ``exc_info`` is replaced by its redacted text (``exc_text``), so no
formatter can render the raw traceback again.
"""

from __future__ import annotations

import logging
import os
import re
import traceback
from collections.abc import Iterable
from pathlib import Path
from typing import Any

__all__ = ["REDACTED", "RedactSecrets", "redact"]

REDACTED = "[REDACTED]"

# Names of fields whose value is never logged (matched inside longer names too:
# ``new_password2``, ``X-CSRFToken``, ``RELAYDESK_MASTER_KEY``).
_SENSITIVE_NAME = (
    r"[\w.-]*?(?:pass(?:word|wd|phrase)|pwd|secret|token|api[_-]?key|authorization|"
    r"session(?:id|[_-]?key)|csrf[\w-]*|master[_-]?keys?|private[_-]?key|"
    r"national[_-]?id(?:entifier)?|tax[_-]?id|ssn|social[_-]?security[\w-]*|"
    r"iban|bank[_-]?account[\w-]*|account[_-]?number|routing[_-]?number|"
    r"card[_-]?number|cvv|cvc)[\w.-]*"
)
_SENSITIVE_KEY = re.compile(rf"^{_SENSITIVE_NAME}$", re.IGNORECASE)

_PATTERNS: list[tuple[re.Pattern[str], str]] = [
    # Authorization: Bearer abc / Basic abc / Token abc (header lines, dict reprs, JSON).
    (
        re.compile(
            r"""(?P<k>authorization["']?\s*[:=]\s*["']?)(?:(?:bearer|basic|token|digest)\s+)?"""
            r"""[^\s"',;}\]]+""",
            re.IGNORECASE,
        ),
        rf"\g<k>{REDACTED}",
    ),
    (re.compile(r"\bbearer\s+[A-Za-z0-9._~+/=-]+", re.IGNORECASE), f"Bearer {REDACTED}"),
    # Personal API tokens wherever they appear.
    (re.compile(r"\brdk_[A-Za-z0-9_-]+"), f"rdk_{REDACTED}"),
    # JSON / Python dict: "password": "x", 'password': 'x', "pin": 1234
    (
        re.compile(
            rf"""(?P<k>["'](?:{_SENSITIVE_NAME})["']\s*:\s*)(?!"?\[REDACTED\])"""
            r"""(?:"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|b'(?:[^'\\]|\\.)*'|[^\s,}\]]+)""",
            re.IGNORECASE,
        ),
        rf'\g<k>"{REDACTED}"',
    ),
    # name=value (form bodies, query strings, cookies, env dumps) and name: value.
    (
        re.compile(
            rf"""(?P<k>\b{_SENSITIVE_NAME}\s*[:=]\s*)(?!\[REDACTED\])"""
            r"""(?:"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|[^\s&;,'"}\]]+)""",
            re.IGNORECASE,
        ),
        rf"\g<k>{REDACTED}",
    ),
    # Values that are sensitive whatever they are called.
    (re.compile(r"\b\d{3}-\d{2}-\d{4}\b"), REDACTED),  # US social security number
    (re.compile(r"\b[A-Z]{2}\d{2}(?:[ ]?[A-Z0-9]{4}){2,7}(?:[ ]?[A-Z0-9]{1,4})?\b"), REDACTED),
]

_CARD = re.compile(r"\b\d(?:[ -]?\d){12,18}\b")


def _luhn(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        n = int(ch)
        if i % 2:
            n = n * 2 - 9 if n > 4 else n * 2
        total += n
    return total % 10 == 0


def _card(match: re.Match[str]) -> str:
    digits = re.sub(r"\D", "", match.group(0))
    return REDACTED if _luhn(digits) else match.group(0)


def _known_secrets() -> list[str]:
    """The literal secret values this process holds (secret key, master keys)."""
    values: list[str] = []
    try:
        from django.conf import settings

        if settings.configured:
            values.append(str(getattr(settings, "SECRET_KEY", "") or ""))
            values.extend(str(v) for v in getattr(settings, "SECRET_KEY_FALLBACKS", []) or [])
            for name in dir(settings):
                if _is_key_name(name):
                    value = getattr(settings, name, None)
                    values.extend(_strings(value))
                elif "MASTER_KEY" in name and name.endswith("_FILE"):
                    values.extend(_key_file(str(getattr(settings, name, "") or "")))
    except Exception:  # pragma: no cover - logging must never fail for this
        pass
    values.extend(v for k, v in os.environ.items() if _is_key_name(k) or k == "SECRET_KEY")
    # Short values would blank out ordinary words; real keys are long.
    return sorted({v for v in values if len(v) >= 16}, key=len, reverse=True)


def _key_file(path: str) -> list[str]:
    """The keys in a small key file (one per line), if it exists."""
    try:
        file = Path(path)
        if path and file.is_file() and file.stat().st_size < 64 * 1024:
            return [line.strip() for line in file.read_text().splitlines() if line.strip()]
    except (OSError, UnicodeDecodeError):
        pass
    return []


def _is_key_name(name: str) -> bool:
    """``RELAYDESK_MASTER_KEY`` holds a key; ``RELAYDESK_MASTER_KEY_FILE`` only a path."""
    return "MASTER_KEY" in name.upper() and not name.upper().endswith(("_FILE", "_PATH", "_DIR"))


def _strings(value: object) -> Iterable[str]:
    if isinstance(value, str | bytes):
        yield value.decode(errors="replace") if isinstance(value, bytes) else value
    elif isinstance(value, dict):
        for v in value.values():
            yield from _strings(v)
    elif isinstance(value, list | tuple | set):
        for v in value:
            yield from _strings(v)


def redact(text: str) -> str:
    """``text`` with every secret and sensitive value replaced by ``[REDACTED]``."""
    for secret in _known_secrets():
        text = text.replace(secret, REDACTED)
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return _CARD.sub(_card, text)


def _redact_value(value: Any, depth: int = 0) -> Any:
    """A copy of ``value`` with sensitive strings and sensitive keys' values redacted."""
    if depth > 5:
        return value
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, bytes):
        return redact(value.decode(errors="replace"))
    if isinstance(value, dict):
        return {
            k: REDACTED
            if isinstance(k, str) and _SENSITIVE_KEY.match(k)
            else _redact_value(v, depth + 1)
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return type(value)(_redact_value(v, depth + 1) for v in value)
    return value


# Attributes every LogRecord has; anything else came in through ``extra``.
_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}


class RedactSecrets(logging.Filter):
    """Rewrite a record so that no handler can write a secret (never drops a record)."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            self._redact(record)
        except Exception:  # pragma: no cover - a broken record must still not leak
            record.msg = redact(str(record.msg))
            record.args = ()
            record.exc_info = None
            record.exc_text = None
        return True

    def _redact(self, record: logging.LogRecord) -> None:
        args = record.args
        if isinstance(args, dict):
            # "%(password)s"-style arguments: blank sensitive keys before formatting.
            record.args = _redact_value(args)
        elif args:
            record.args = tuple(_redact_value(a) for a in args)
        try:
            message = record.getMessage()
        except Exception:
            message = f"{record.msg} {record.args!r}"
        record.msg = redact(message)
        record.args = ()
        if record.exc_info:
            text = "".join(traceback.format_exception(*record.exc_info)).rstrip("\n")
            record.exc_text = redact(text)
            record.exc_info = None
        elif record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        for name, value in list(vars(record).items()):
            if name in _STANDARD:
                continue
            if _SENSITIVE_KEY.match(name):
                setattr(record, name, REDACTED)
            elif isinstance(value, str | bytes | dict | list | tuple):
                setattr(record, name, _redact_value(value))
