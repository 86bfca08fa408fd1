"""When the database goes away the app says so (503 + Retry-After for the API, a translated
"database unavailable" page for people) and comes back by itself once the database is back.
Error pages never crash, signed-in users included.

The outage is real: the app talks to PostgreSQL through a loopback TCP relay that the test cuts
(every open connection dropped, new ones refused) and then restores on the same port.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import make_url

from dutydesk import migrate
from dutydesk.app import create_app
from dutydesk.core.config import load_settings
from dutydesk.core.db import Database
from dutydesk.models import Role

from ..conftest import _truncate_all, bearer, login, make_user

pytestmark = pytest.mark.postgres


class Relay:
    """A TCP relay to the database: ``cut()`` is the outage, ``restore()`` its end."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.port = 0
        self._listener: socket.socket | None = None
        self._sockets: set[socket.socket] = set()
        self._lock = threading.Lock()

    def start(self) -> None:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(16)
        self.port = listener.getsockname()[1]
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # cut
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._sockets |= {client, upstream}
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    def _pipe(self, source: socket.socket, sink: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                sink.sendall(data)
        for s in (source, sink):
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)

    def cut(self) -> None:
        """Refuse new connections and drop every open one, as a crashed server would."""
        if self._listener is not None:
            with contextlib.suppress(OSError):  # wakes the thread blocked in accept() (Linux)
                self._listener.shutdown(socket.SHUT_RDWR)
            self._listener.close()
            self._listener = None
        with self._lock:
            for s in self._sockets:
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)
                s.close()
            self._sockets.clear()

    def restore(self) -> None:
        self.start()


@pytest.fixture
def relay(postgres_url: str) -> Iterator[Relay]:
    url = make_url(postgres_url)
    relay = Relay((url.host or "127.0.0.1", url.port or 5432))
    relay.start()
    yield relay
    relay.cut()


@pytest.fixture
def outage_app(postgres_url: str, relay: Relay, tmp_path: Path) -> Iterator[Any]:
    db = Database(postgres_url, pool_size=1)
    if migrate.current_revision(db) != migrate.head_revision(db):
        migrate.upgrade(db)
    _truncate_all(db)
    db.dispose()
    relayed = make_url(postgres_url).set(host="127.0.0.1", port=relay.port)
    settings = load_settings(
        {
            "env": "testing",
            "database_url": relayed.render_as_string(hide_password=False),
            "secret_key": "test-secret-key-" + "x" * 32,
            "instance_path": str(tmp_path / "instance"),
        },
        environ={},
    )
    database = Database(settings.database_url, pool_size=2)
    app = create_app(settings, db=database)
    app.test_db = database
    yield app
    database.dispose()


def test_a_database_outage_is_a_503_with_retry_after_and_the_app_recovers_by_itself(
    outage_app: Any, relay: Relay
) -> None:
    with outage_app.test_db.session() as s:
        from dutydesk import accounts

        _token, plaintext = accounts.create_token(s, "test", name="ops", role=Role.VIEWER)
    api = outage_app.test_client()
    assert api.get("/api/v1/incidents", headers=bearer(plaintext)).status_code == 200

    relay.cut()
    for _ in range(2):  # the first request meets the dropped connection, the next a refused one
        response = api.get("/api/v1/incidents", headers=bearer(plaintext))
        assert response.status_code == 503
        assert int(response.headers["Retry-After"]) > 0
        assert response.get_json()["error"].startswith("database unavailable")

    relay.restore()
    assert api.get("/api/v1/incidents", headers=bearer(plaintext)).status_code == 200


def test_people_see_a_translated_database_unavailable_page_while_signed_in(
    outage_app: Any, relay: Relay
) -> None:
    user = make_user(outage_app.test_db, Role.ENGINEER, language="uk")
    browser = outage_app.test_client()
    assert login(browser, user.email).status_code == 302
    assert browser.get("/incidents").status_code == 200

    relay.cut()
    response = browser.get(
        "/incidents", headers={"Accept": "text/html", "Accept-Language": "uk"}
    )
    assert response.status_code == 503
    assert int(response.headers["Retry-After"]) > 0
    page = response.get_data(as_text=True)
    assert "База даних недоступна" in page and "перепідключиться сам" in page

    relay.restore()
    response = browser.get("/incidents", headers={"Accept": "text/html"})
    assert response.status_code == 200  # still signed in: nothing was lost
    assert user.email in response.get_data(as_text=True) or user.name in response.get_data(
        as_text=True
    )
