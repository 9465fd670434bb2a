"""Which webhook URLs are accepted, and one HTTP POST to an endpoint.

Endpoints must be public ``https://`` addresses. For testing a receiver on the
server itself, ``http://`` (and ``https://``) to ``127.0.0.1``, ``[::1]`` or
``localhost`` are accepted while ``RELAYDESK_WEBHOOK_ALLOW_LOOPBACK`` is on
(the default outside production). Credentials in the URL, other schemes,
single-label and local-network host names, and addresses that are private,
link-local or otherwise not on the public internet are refused, both when the
URL is saved and, after resolving the name, when each request is made: the
connection goes to the address that was checked, so a name that later
resolves elsewhere cannot reach the provider's own network.

Only the standard library is used (``http.client``); redirects are not
followed (a 3xx answer is a failure).
"""

from __future__ import annotations

import http.client
import ipaddress
import socket
import ssl
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings

__all__ = ["Outcome", "UrlRefused", "allow_loopback", "check_url", "post"]

MAX_URL_LENGTH = 2000
# Seconds to connect, and then for each read of the answer.
TIMEOUT_SECONDS = 5.0
# The answer's body is read up to this many bytes, then the connection closed.
READ_LIMIT = 64 * 1024
_LOCAL_SUFFIXES = (".local", ".localdomain", ".internal", ".intranet", ".lan", ".home.arpa")
_LOOPBACK_NAMES = ("localhost", "localhost.")

Address = ipaddress.IPv4Address | ipaddress.IPv6Address


class UrlRefused(ValueError):
    """The URL may not be used for a webhook; the message says why, for a person."""


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one POST did: the answer's status (``None`` without one), an error, the time."""

    status: int | None
    error: str
    elapsed_ms: int

    @property
    def ok(self) -> bool:
        """True on a 2xx answer."""
        return self.status is not None and 200 <= self.status < 300


def allow_loopback() -> bool:
    """Whether endpoints on this server itself (127.0.0.1, localhost) are accepted."""
    default = not getattr(settings, "PRODUCTION", False)
    return bool(getattr(settings, "RELAYDESK_WEBHOOK_ALLOW_LOOPBACK", default))


def _literal(host: str) -> Address | None:
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _is_loopback_name(host: str) -> bool:
    return host in _LOOPBACK_NAMES or host.endswith(".localhost")


def check_url(url: str, *, loopback: bool | None = None) -> str:
    """The URL, trimmed, if a webhook may be sent to it; :class:`UrlRefused` says why not."""
    loopback = allow_loopback() if loopback is None else loopback
    url = url.strip()
    if not url:
        raise UrlRefused("Enter the URL that should receive the events.")
    if len(url) > MAX_URL_LENGTH:
        raise UrlRefused(f"The URL is longer than {MAX_URL_LENGTH:,} characters.")
    if any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in url):
        raise UrlRefused("The URL cannot contain spaces or control characters.")
    if not url.isascii():
        raise UrlRefused(
            "Write the URL in ASCII: percent-encode other characters, and give an "
            "international domain name in its xn-- form."
        )
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise UrlRefused("The URL is not valid (check the host name and the port).") from None
    scheme = parts.scheme.lower()
    if scheme not in ("https", "http"):
        shown = f"{scheme}://" if scheme else "no scheme"
        raise UrlRefused(f"Use an https:// URL (the URL has {shown}).")
    if parts.username is not None or parts.password is not None:
        raise UrlRefused(
            "Leave user names and passwords out of the URL: check the signature of each "
            "event instead."
        )
    host = (parts.hostname or "").lower()
    if not host:
        raise UrlRefused("The URL needs a host name, e.g. https://hooks.example.com/relaydesk.")
    if parts.fragment:
        raise UrlRefused("Leave the #fragment out of the URL.")
    if port == 0:
        raise UrlRefused("The URL's port must be between 1 and 65535.")
    address = _literal(host)
    is_loopback = _is_loopback_name(host) or (address is not None and address.is_loopback)
    if is_loopback:
        if not loopback:
            raise UrlRefused(
                "Addresses of this server itself (localhost, 127.0.0.1) are not allowed."
            )
        return url
    if scheme != "https":
        raise UrlRefused(
            "Use an https:// URL; plain http:// is accepted only for http://127.0.0.1 or "
            "http://localhost, for testing."
        )
    if address is not None:
        if not address.is_global:
            raise UrlRefused(
                f"{address} is a private, link-local or reserved address; use a public one."
            )
        return url
    if "." not in host.rstrip(".") or host.endswith(_LOCAL_SUFFIXES):
        raise UrlRefused(
            f"'{host}' is a local network name; use a public host name such as hooks.example.com."
        )
    return url


def _vetted_address(host: str, port: int, loopback: bool) -> str:
    """The first address ``host`` resolves to that a webhook may reach; UrlRefused otherwise."""
    try:
        found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        raise UrlRefused("The host name could not be resolved.") from None
    for _family, _type, _proto, _name, sockaddr in found:
        address = _literal(str(sockaddr[0]))
        if address is None:
            continue
        if address.is_global or (loopback and address.is_loopback):
            return str(address)
    raise UrlRefused("The host name resolves to a private or reserved address; refused.")


def _error_text(error: BaseException) -> str:
    if isinstance(error, TimeoutError | socket.timeout):
        return f"No answer within {TIMEOUT_SECONDS:g} seconds."
    if isinstance(error, ConnectionRefusedError):
        return "The connection was refused."
    if isinstance(error, ssl.SSLCertVerificationError):
        return f"The TLS certificate was not accepted: {error.verify_message or 'invalid'}."[:200]
    if isinstance(error, ssl.SSLError):
        return "The TLS handshake failed."
    if isinstance(error, http.client.HTTPException | ConnectionResetError):
        return "The connection closed without a valid HTTP answer."
    if isinstance(error, OSError) and error.strerror:
        return f"Could not connect: {error.strerror}."[:200]
    return "Could not connect."


def post(
    url: str, body: bytes, headers: dict[str, str], *, timeout: float | None = None
) -> Outcome:
    """POST ``body`` to ``url`` once; never raises for network trouble (see :class:`Outcome`)."""
    timeout = TIMEOUT_SECONDS if timeout is None else timeout
    started = time.monotonic()

    def done(status: int | None, error: str) -> Outcome:
        return Outcome(status, error, int((time.monotonic() - started) * 1000))

    loopback = allow_loopback()
    try:
        check_url(url, loopback=loopback)
        parts = urlsplit(url)
        host = parts.hostname or ""
        https = parts.scheme.lower() == "https"
        port = parts.port or (443 if https else 80)
        pinned = _vetted_address(host, port, loopback)
    except UrlRefused as refused:
        return done(None, str(refused))
    connection: http.client.HTTPConnection
    if https:
        connection = http.client.HTTPSConnection(
            host, port, timeout=timeout, context=ssl.create_default_context()
        )
    else:
        connection = http.client.HTTPConnection(host, port, timeout=timeout)

    # Connect to the checked address; the Host header and TLS name stay the URL's host.
    def connect_pinned(
        address: tuple[str, int], timeout: float | None = None, source: object = None
    ) -> socket.socket:
        return socket.create_connection((pinned, port), timeout)

    connection._create_connection = connect_pinned  # type: ignore[attr-defined]
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    try:
        connection.request("POST", target, body=body, headers=headers)
        answer = connection.getresponse()
        status = answer.status
        answer.read(READ_LIMIT)
    except (OSError, http.client.HTTPException) as error:
        return done(None, _error_text(error))
    finally:
        connection.close()
    if 200 <= status < 300:
        return done(status, "")
    return done(status, _status_text(status))


def _status_text(status: int) -> str:
    try:
        phrase = http.HTTPStatus(status).phrase
    except ValueError:
        phrase = ""
    if 300 <= status < 400:
        return f"The endpoint answered {status} {phrase} (redirects are not followed).".replace(
            "  ", " "
        )
    return f"The endpoint answered {status} {phrase}.".replace(" .", ".")
