"""Which endpoint URLs are accepted, and the request going to the address that was checked."""

from __future__ import annotations

import socket
from typing import Any

import pytest

from relaydesk.webhooks import transport
from relaydesk.webhooks.transport import UrlRefused, check_url


@pytest.mark.parametrize(
    "url",
    [
        "https://hooks.example.com/relaydesk",
        "https://hooks.example.com:8443/relaydesk?source=rd",
        "https://93.184.216.34/hook",
        "http://127.0.0.1:8088/hook",
        "http://localhost:8088/hook",
        "http://[::1]:8088/hook",
        "https://localhost/hook",
    ],
)
def test_public_https_and_this_server_for_testing_are_accepted(url: str) -> None:
    assert check_url(f"  {url} ", loopback=True) == url


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("ftp://files.example.com/drop", "Use an https:// URL (the URL has ftp://)"),
        ("file:///etc/passwd", "Use an https:// URL (the URL has file://)"),
        ("hooks.example.com/relaydesk", "Use an https:// URL (the URL has no scheme)"),
        ("http://hooks.example.com/relaydesk", "plain http:// is accepted only for"),
        ("https://user:pw@hooks.example.com/", "Leave user names and passwords out"),
        ("https://10.0.0.5/hook", "10.0.0.5 is a private, link-local or reserved address"),
        ("https://192.168.1.20/hook", "private, link-local or reserved"),
        ("https://169.254.169.254/latest/meta-data", "private, link-local or reserved"),
        ("https://[fe80::1]/hook", "private, link-local or reserved"),
        ("https://[::ffff:10.1.2.3]/hook", "10.1.2.3 is a private"),
        ("https://intranet/hook", "'intranet' is a local network name"),
        ("https://files.internal/hook", "local network name"),
        ("https://nas.local/hook", "local network name"),
        ("https://hooks.example.com:99999/", "not valid"),
        ("https:///hook", "needs a host name"),
        ("https://hooks.example.com/a b", "spaces or control characters"),
        ("https://hooks.example.com/#top", "fragment"),
        ("", "Enter the URL"),
        ("https://bücher.example/hook", "Write the URL in ASCII"),
        ("https://hooks.example.com/" + "x" * 2000, "longer than 2,000 characters"),
    ],
)
def test_other_urls_are_refused_saying_why(url: str, says: str) -> None:
    with pytest.raises(UrlRefused) as refused:
        check_url(url, loopback=True)
    assert says in str(refused.value)


def test_this_server_is_refused_when_loopback_is_off() -> None:
    for url in ("http://127.0.0.1:8088/", "https://localhost/", "http://[::1]/"):
        with pytest.raises(UrlRefused, match="this server itself"):
            check_url(url, loopback=False)


def test_production_refuses_this_server_unless_told_otherwise(settings: Any) -> None:
    del settings.RELAYDESK_WEBHOOK_ALLOW_LOOPBACK
    settings.PRODUCTION = True
    assert transport.allow_loopback() is False
    settings.RELAYDESK_WEBHOOK_ALLOW_LOOPBACK = True
    assert transport.allow_loopback() is True


def test_a_name_resolving_to_a_private_address_is_not_contacted(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def resolves_inside(host: str, port: int, **kwargs: object) -> list[Any]:
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("10.0.0.7", port))]

    connected: list[object] = []
    monkeypatch.setattr(socket, "getaddrinfo", resolves_inside)
    monkeypatch.setattr(socket, "create_connection", lambda *a, **k: connected.append(a))
    outcome = transport.post("https://hooks.example.com/x", b"{}", {})
    assert outcome.status is None and not outcome.ok
    assert outcome.error == "The host name resolves to a private or reserved address; refused."
    assert connected == []


def test_the_connection_goes_to_the_checked_address(monkeypatch: pytest.MonkeyPatch) -> None:
    answers = iter(
        [
            [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.216.34", 443))],
            [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("10.0.0.7", 443))],
        ]
    )
    monkeypatch.setattr(socket, "getaddrinfo", lambda *a, **k: next(answers))
    connected: list[tuple[str, int]] = []

    def refuse(address: tuple[str, int], *args: object, **kwargs: object) -> socket.socket:
        connected.append(address)
        raise ConnectionRefusedError

    monkeypatch.setattr(socket, "create_connection", refuse)
    outcome = transport.post("https://hooks.example.com/x", b"{}", {})
    assert connected == [("93.184.216.34", 443)]
    assert outcome.error == "The connection was refused."
