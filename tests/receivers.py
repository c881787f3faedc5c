"""Real receivers for the notifier's tests and bench, on loopback: an SMTP server (aiosmtpd)
that keeps every message and counts connections, and an HTTP webhook receiver that keeps
every delivery and can be told to fail."""

import email
import email.policy
import json
import threading
from collections import Counter
from dataclasses import dataclass, field
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from deploy.brokers import free_port


class _Mailbox:
    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.ids: Counter[str] = Counter()  # Message-IDs, counted as they arrive
        self.connections = 0
        self._lock = threading.Lock()

    async def handle_EHLO(self, server: SMTP, session: Session, envelope: Envelope,
                          hostname: str, responses: list[str]) -> list[str]:
        with self._lock:
            self.connections += 1
        session.host_name = hostname
        return responses

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.original_content or b""
        message = email.message_from_bytes(content, _class=EmailMessage,
                                           policy=email.policy.default)
        with self._lock:
            self.messages.append(message)
            self.ids[str(message["Message-ID"]).strip()] += 1
        return "250 OK"


class SmtpServer:
    """aiosmtpd on a free loopback port, in its own thread."""

    def __init__(self) -> None:
        self.port = free_port()
        self._box = _Mailbox()
        self._controller = Controller(self._box, hostname="127.0.0.1", port=self.port)

    def __enter__(self) -> "SmtpServer":
        self._controller.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._controller.stop()

    @property
    def messages(self) -> list[EmailMessage]:
        return list(self._box.messages)

    @property
    def connections(self) -> int:
        return self._box.connections

    def ids(self) -> Counter[str]:
        return self._box.ids.copy()


class _Server(ThreadingHTTPServer):
    request_queue_size = 128  # the default 5 refuses a sender with many requests at once
    daemon_threads = True


@dataclass
class Delivery:
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class WebhookReceiver:
    """An HTTP server on a free loopback port that answers `fail_first` deliveries with 503
    (every one, with `fail_always`), then 200; it keeps what it answered 200 to."""

    fail_first: int = 0
    fail_always: bool = False
    deliveries: list[Delivery] = field(default_factory=list)
    refused: int = 0
    _ids: Counter[str] = field(default_factory=Counter)  # webhook-ids, as they arrive

    def __post_init__(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                with receiver._lock:
                    failing = receiver.fail_always or receiver.refused < receiver.fail_first
                    if failing:
                        receiver.refused += 1
                    else:
                        receiver.deliveries.append(Delivery(
                            {k.lower(): v for k, v in self.headers.items()}, body))
                        receiver._ids[self.headers.get("webhook-id", "")] += 1
                self.send_response(503 if failing else 200)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *_: object) -> None:
                pass

        self._lock = threading.Lock()
        self._server = _Server(("127.0.0.1", free_port()), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_port}/hook"

    def __enter__(self) -> "WebhookReceiver":
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *_: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def ids(self) -> Counter[str]:
        with self._lock:
            return self._ids.copy()
