"""Helpers for engine and store tests: a switchable HTTP target and check rows."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from sqlalchemy import select

from checks.models import Check, CheckStateRow
from dutydesk.core.db import Database, utcnow


class SwitchableTarget:
    """An HTTP server on 127.0.0.1 answering 200 while ``healthy`` and 503 otherwise;
    ``delay`` seconds before answering simulate a hung service."""

    def __init__(self) -> None:
        self.healthy = True
        self.delay = 0.0
        target = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if target.delay:
                    time.sleep(target.delay)
                code = 200 if target.healthy else 503
                body = b"up" if target.healthy else b"down"
                self.send_response(code)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/health"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@contextmanager
def switchable_target() -> Iterator[SwitchableTarget]:
    target = SwitchableTarget()
    try:
        yield target
    finally:
        target.close()


def add_check(db: Database, slug: str, url: str, **fields: Any) -> int:
    """A check row with a long interval (runs only when a test asks) and a state row."""
    values: dict[str, Any] = {
        "slug": slug, "display_name": slug, "type": "http", "spec": {"url": url},
        "interval": 3600.0, "retry_interval": 3600.0, "max_attempts": 2, "timeout": 5.0,
    }
    values.update(fields)
    with db.session() as s:
        check = Check(**values)
        s.add(check)
        s.flush()
        s.add(CheckStateRow(check_id=check.id, state={},
                            next_due_at=utcnow().replace(year=2100)))
        return check.id


def version_of(db: Database, check_id: int) -> int:
    with db.session() as s:
        return s.scalar(select(CheckStateRow.version).where(CheckStateRow.check_id == check_id))


def wait_for_version(db: Database, check_id: int, version: int, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while version_of(db, check_id) < version:
        if time.monotonic() > deadline:
            raise AssertionError(f"check {check_id} did not reach version {version} in {timeout}s")
        time.sleep(0.05)
