"""Helpers for webhook tests: a real HTTP receiver, the documented verification code, and
endpoints set up through the real actions."""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from relaydesk.accounts.models import User
from relaydesk.clients.models import Engagement
from relaydesk.webhooks.actions import do_create_endpoint, queue_event
from relaydesk.webhooks.models import SUBSCRIBABLE, WebhookEndpoint
from relaydesk.work.models import WorkItem
from tests.conftest import World

DOCS = Path(__file__).resolve().parents[2] / "docs" / "webhooks.md"
ALL_EVENTS = [e.value for e in SUBSCRIBABLE]


def documented_verifier() -> Callable[..., bool]:
    """``verify_relaydesk_signature`` exactly as docs/webhooks.md prints it."""
    text = DOCS.read_text()
    section = text.split("## Verifying a delivery", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.DOTALL)
    assert code is not None, "docs/webhooks.md lost its verification example"
    namespace: dict[str, Any] = {}
    exec(compile(code.group(1), str(DOCS), "exec"), namespace)
    return namespace["verify_relaydesk_signature"]


@dataclass
class Received:
    """One request the receiver got."""

    path: str
    headers: dict[str, str]
    body: bytes
    verified: bool | None

    @property
    def event(self) -> dict[str, Any]:
        """The JSON body."""
        return json.loads(self.body)


@dataclass
class Receiver:
    """A webhook receiver on 127.0.0.1 that answers with ``answers`` in turn (then the last
    one), after ``delay`` seconds, and checks each signature with the documented code."""

    answers: list[int] = field(default_factory=lambda: [200])
    delay: float = 0.0
    secret: str | None = None
    received: list[Received] = field(default_factory=list)
    port: int = 0

    @property
    def url(self) -> str:
        """Where to send events."""
        return f"http://127.0.0.1:{self.port}/hooks/relaydesk?source=tests"

    def wait_for(self, count: int, timeout: float = 5.0) -> list[Received]:
        """The requests once there are ``count`` of them (or after ``timeout``)."""
        deadline = time.monotonic() + timeout
        while len(self.received) < count and time.monotonic() < deadline:
            time.sleep(0.01)
        return self.received


@contextmanager
def receiving(
    answers: Iterable[int] = (200,), *, delay: float = 0.0, secret: str | None = None
) -> Iterator[Receiver]:
    """Run a :class:`Receiver` in a thread for the length of the block."""
    receiver = Receiver(answers=list(answers), delay=delay, secret=secret)
    verify = documented_verifier()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            headers = {k: v for k, v in self.headers.items()}
            verified = (
                verify(body, headers.get("Relaydesk-Signature", ""), receiver.secret)
                if receiver.secret
                else None
            )
            receiver.received.append(Received(self.path, headers, body, verified))
            if receiver.delay:
                time.sleep(receiver.delay)
            index = min(len(receiver.received), len(receiver.answers)) - 1
            status = receiver.answers[index]
            self.send_response(status)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args: object) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    receiver.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()


def closed_port() -> int:
    """A port on 127.0.0.1 that nothing listens on."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def add_endpoint(
    admin: User,
    engagement: Engagement,
    url: str,
    events: Iterable[str] = ALL_EVENTS,
    **fields: Any,
) -> tuple[WebhookEndpoint, str]:
    """An endpoint set up by the client's admin through the real action."""
    return do_create_endpoint(
        admin, engagement_id=engagement.pk, url=url, event_types=list(events), **fields
    )


def webhook_rows(world: World, items: Iterable[WorkItem]) -> None:
    """For row-security tests: an endpoint of each item's engagement with one delivery."""
    admins = {world.client_a.pk: world.client_admin_a, world.client_b.pk: world.client_admin_b}
    for item in items:
        endpoint, _ = add_endpoint(
            admins[item.client_id], item.engagement, "https://hooks.example.com/relaydesk"
        )
        queue_event(item.engagement, "work_item.submitted", {"work_item": {"id": item.pk}})
        assert endpoint.deliveries.exists()
