"""Shared fixtures: real databases (SQLite and PostgreSQL), the app, signed-in clients.

Every test that takes ``app``/``db`` runs once per backend. PostgreSQL tests skip with a message
when no server answers, unless DUTYDESK_REQUIRE_POSTGRES=1 (CI), where that is a failure. The
same holds for Chromium with DUTYDESK_REQUIRE_BROWSER=1.
"""

from __future__ import annotations

import os
import re
import shutil
import sqlite3
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from dutydesk import accounts, migrate
from dutydesk.app import create_app
from dutydesk.core.config import Settings, load_settings
from dutydesk.core.db import Base, Database
from dutydesk.models import Role

PG_ADMIN_URL = os.environ.get(
    "DUTYDESK_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
REQUIRE_POSTGRES = os.environ.get("DUTYDESK_REQUIRE_POSTGRES") == "1"
REQUIRE_BROWSER = os.environ.get("DUTYDESK_REQUIRE_BROWSER") == "1"
PASSWORD = "correct horse battery"
BACKENDS = [
    b.strip() for b in os.environ.get("DUTYDESK_TEST_BACKENDS", "sqlite,postgresql").split(",")
]


def skip_or_fail(reason: str, required: bool) -> None:
    if required:
        pytest.fail(f"{reason} (required in this run)")
    pytest.skip(reason)


# --------------------------------------------------------------------------- databases


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One migrated SQLite file per test session; each test gets a copy (fast and isolated)."""
    path = tmp_path_factory.mktemp("template") / "template.sqlite"
    db = Database(f"sqlite:///{path}")
    migrate.upgrade(db)
    db.dispose()
    with sqlite3.connect(path) as conn:  # fold the WAL into the file so a plain copy is complete
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return path


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A fresh PostgreSQL database for this test session, migrated once, dropped at the end."""
    name = f"dutydesk_test_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:
        admin.dispose()
        skip_or_fail(f"PostgreSQL not reachable at {PG_ADMIN_URL}: {exc}", REQUIRE_POSTGRES)
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    db = Database(url, pool_size=2)
    migrate.upgrade(db)
    db.dispose()
    yield url
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _truncate_all(db: Database) -> None:
    tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    with db.engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
        # As a migrated database has it (migration 0031): rows without a site belong to it.
        conn.execute(text("INSERT INTO sites (slug, name, time_zone, created_at) "
                          "VALUES ('default', 'Default site', 'UTC', now())"))


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        target = tmp_path / "dutydesk.sqlite"
        shutil.copy(request.getfixturevalue("sqlite_template"), target)
        return f"sqlite:///{target}"
    url = request.getfixturevalue("postgres_url")
    db = Database(url, pool_size=1)
    if migrate.current_revision(db) != migrate.head_revision(db):
        migrate.upgrade(db)  # an earlier test walked the shared database's schema back
    _truncate_all(db)
    db.dispose()
    return url


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return load_settings(
        {
            "env": "testing",
            "database_url": database_url,
            "secret_key": "test-secret-key-" + "x" * 32,
            "instance_path": str(tmp_path / "instance"),
            "timezone": "Europe/Kyiv",
            # the tests' webhook receivers listen on loopback: allowed explicitly, as an
            # operator would allow an internal network (tests/dutydesk/test_netguard.py checks
            # that nothing else is)
            "outbound_allow": ["127.0.0.0/8"],
        },
        environ={},
    )


@pytest.fixture
def db(settings: Settings) -> Iterator[Database]:
    database = Database(settings.database_url, pool_size=4)
    yield database
    database.dispose()


@pytest.fixture
def app(settings: Settings, db: Database) -> Iterator[Any]:
    application = create_app(settings, db=db)
    yield application
    # a wall page opened by the test started the live feed's poller: stop it before the test's
    # database goes (it would log "poll failed" against a dropped database for the rest of the run)
    feed = application.extensions.get("dutydesk_wall_feed")  # dutydesk.wall.feed.EXTENSION
    if feed is not None:
        feed.stop()


@pytest.fixture
def client(app: Any) -> Any:
    return app.test_client()


# --------------------------------------------------------------------------- people


def make_user(db: Database, role: Role | str, email: str | None = None, **extra: Any) -> Any:
    role = Role(role)
    with db.session() as s:
        return accounts.create_user(
            s,
            "test",
            email=email or f"{role.value}-{uuid.uuid4().hex[:6]}@dc.example",
            password=PASSWORD,
            role=role,
            **extra,
        )


def csrf_from(html: str) -> str:
    match = re.search(r'name="csrf-token" content="([^"]+)"', html) or re.search(
        r'name="csrf_token" value="([^"]+)"', html
    )
    assert match, "page has no CSRF token"
    return match.group(1)


def login(client: Any, email: str, password: str = PASSWORD) -> Any:
    token = csrf_from(client.get("/login").get_data(as_text=True))
    return client.post("/login", data={"email": email, "password": password, "csrf_token": token})


@pytest.fixture
def signed_in(app: Any, db: Database) -> Any:
    """``signed_in(role)`` → a test client signed in as a new user with that role."""

    def factory(role: Role | str = Role.ENGINEER) -> Any:
        user = make_user(db, role)
        client = app.test_client()
        response = login(client, user.email)
        assert response.status_code == 302, response.get_data(as_text=True)
        client.user = user
        return client

    return factory


def form_token(client: Any, page: str = "/") -> str:
    return csrf_from(client.get(page).get_data(as_text=True))


@pytest.fixture
def api_token(db: Database) -> Any:
    """``api_token(role)`` → the plaintext of a new bearer token with that role."""

    def factory(role: Role | str = Role.ENGINEER) -> str:
        with db.session() as s:
            _token, plaintext = accounts.create_token(s, "test", name=f"t-{role}", role=role)
        return plaintext

    return factory


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture(scope="session")
def chromium_path() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        skip_or_fail("Chromium not installed (apt-get install chromium)", REQUIRE_BROWSER)
    return path


@pytest.fixture(scope="session")
def output_dir() -> Path:
    """Screenshots and other artefacts a person may want to look at after the run."""
    path = Path(os.environ.get("DUTYDESK_TEST_OUTPUT", "test-output"))
    path.mkdir(parents=True, exist_ok=True)
    return path


# --------------------------------------------------------------------------- browser


class LiveServer:
    """The app served by a real HTTP server on 127.0.0.1 in a background thread."""

    def __init__(self, app: Any) -> None:
        import threading

        from werkzeug.serving import make_server

        self.server = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def live_server(app: Any) -> Iterator[LiveServer]:
    server = LiveServer(app)
    yield server
    server.stop()


CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def browser(chromium_path: str) -> Iterator[Any]:
    """Debian's headless Chromium driven by Playwright (no browser download). One per test
    module: Playwright's sync API keeps its event loop running in the main thread while it is
    open, so a session-wide browser would make every later ``asyncio.run`` (the probes' tests)
    fail with "cannot be called from a running event loop"."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:  # pragma: no cover - the test extra installs it
        skip_or_fail("playwright is not installed", REQUIRE_BROWSER)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=chromium_path, headless=True, args=CHROMIUM_ARGS
        )
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1920, "height": 1080}, locale="en-GB")
    tab = context.new_page()
    yield tab
    context.close()


# --------------------------------------------------------------------------- peers

REQUIRE_DOVECOT = os.environ.get("DUTYDESK_REQUIRE_DOVECOT") == "1"


@pytest.fixture
def dovecot(tmp_path: Path) -> Iterator[Any]:
    """A real Dovecot IMAP server with an empty mailbox (``tests/peers/dovecot.py``: ``host``,
    ``port`` (STARTTLS), ``tls_port``, ``user``, ``password``, ``ca_file``, ``deliver(raw)``,
    ``uids(folder)``, ``folders()``, ``stop()``). Skips when Dovecot is not installed, unless
    DUTYDESK_REQUIRE_DOVECOT=1 (CI), where that fails."""
    from tests.peers.dovecot import Dovecot, dovecot_binary

    if dovecot_binary() is None:
        skip_or_fail("Dovecot is not installed (apt-get install dovecot-imapd)", REQUIRE_DOVECOT)
    server = Dovecot.start(tmp_path / "dovecot")
    yield server
    server.stop()
