"""Real receivers on 127.0.0.1 for notification tests: an SMTP server and HTTP endpoints."""

from __future__ import annotations

import contextlib
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from aiosmtpd.controller import Controller


@dataclass
class MailBox:
    messages: list[Any] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        from email import message_from_bytes, policy

        self.messages.append(message_from_bytes(envelope.content, policy=policy.default))
        return "250 Message accepted for delivery"


class SmtpServer:
    def __init__(self) -> None:
        import socket

        with socket.socket() as probe:  # aiosmtpd's start() self-connects, so it needs a real port
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.mailbox = MailBox()
        self.controller = Controller(self.mailbox, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def stop(self) -> None:
        self.controller.stop()


@dataclass
class HttpReceiver:
    """Answers ``fail_first`` requests with ``fail_status``, then 200; keeps what it received.

    ``delay``: seconds to think before answering; ``hold``: while this event is clear, every
    request hangs (a receiver that never answers) — set it to let them go. ``keep_alive``:
    HTTP/1.1 with connections kept open between requests; ``connections`` counts those
    accepted."""

    fail_first: int = 0
    fail_status: int = 503
    delay: float = 0.0
    hold: threading.Event | None = None
    keep_alive: bool = False
    connections: int = 0
    requests: list[dict[str, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self) -> str:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1" if receiver.keep_alive else "HTTP/1.0"
            disable_nagle_algorithm = True

            def setup(self) -> None:
                super().setup()
                with receiver.lock:
                    receiver.connections += 1

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with receiver.lock:
                    receiver.requests.append(
                        {
                            "headers": dict(self.headers),
                            "body": json.loads(body or b"null"),
                            "raw": body,
                            "path": self.path,
                        }
                    )
                    failing = len(receiver.requests) <= receiver.fail_first
                if receiver.hold is not None:
                    receiver.hold.wait()
                if receiver.delay:
                    time.sleep(receiver.delay)
                status = receiver.fail_status if failing else 200
                answer = b'{"ok": true}' if status == 200 else b'{"ok": false}'
                self.send_response(status)
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                # the sender may have given up waiting and closed the connection
                with contextlib.suppress(OSError):
                    self.wfile.write(answer)

            def log_message(self, *_args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def idempotency_keys(self) -> list[str]:
        """The Idempotency-Key of every request received, in order."""
        with self.lock:
            return [r["headers"].get("Idempotency-Key", "") for r in self.requests]

    def stop(self) -> None:
        if self.hold is not None:
            self.hold.set()
        self.server.shutdown()
        self.server.server_close()
