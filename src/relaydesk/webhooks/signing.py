"""Signing secrets and the ``Relaydesk-Signature`` header (docs/webhooks.md, "Verifying").

The header is ``t=<unix seconds>,v1=<hex HMAC-SHA256>``: the HMAC of
``"<t>.<raw body>"`` under the endpoint's secret (the whole string, prefix
included, as UTF-8). While a rolled secret still signs, the header carries one
``v1`` per secret, the current one first.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Sequence

__all__ = ["SECRET_PREFIX", "new_secret", "secret_hint", "signature_header", "signature_of"]

SECRET_PREFIX = "whsec_"


def new_secret() -> str:
    """A fresh signing secret: the prefix and 32 random bytes in URL-safe base64."""
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def secret_hint(secret: str) -> str:
    """The last four characters, shown to tell one secret from another."""
    return secret[-4:]


def signature_of(secret: str, timestamp: int, body: bytes) -> str:
    """The hex HMAC-SHA256 of ``"<timestamp>.<body>"`` under ``secret``."""
    message = str(timestamp).encode() + b"." + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def signature_header(secrets_: Sequence[str], timestamp: int, body: bytes) -> str:
    """The ``Relaydesk-Signature`` value for ``body``: one ``v1`` per secret, in order."""
    if not secrets_:
        raise ValueError("At least one secret is needed to sign.")
    parts = [f"t={timestamp}"] + [f"v1={signature_of(s, timestamp, body)}" for s in secrets_]
    return ",".join(parts)
