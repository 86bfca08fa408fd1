"""Junk typed into every HTML form never gets a 5xx.

An admin walks the site (every page reachable by links from the home page, one page per kind of
URL), every ``<form>`` on those pages is read (fields, hidden values, the CSRF token kept), and
each form is sent back with junk: every field junk at once, and each field junk on its own with
the others as the page filled them. Any 5xx fails the test with the form and what was sent.

Deterministic: the junk list and the order are fixed, so a failure comes back on the next run.
Figures (pages, forms, posts, time) are printed; run with ``-s`` to see them.
"""

from __future__ import annotations

import logging
import re
import time
from collections import deque
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urljoin, urlsplit

import pytest
from sqlalchemy import select
from werkzeug.datastructures import MultiDict

from dutydesk import accounts
from dutydesk.core.config import Settings
from dutydesk.core.db import Database
from dutydesk.models import Role, User

from ..conftest import login
from .fuzzing import PASSWORDS, seed_world

pytestmark = pytest.mark.slow

ADMIN = "admin@dc.example"
MAX_PAGES = 120
#: What careless people and attackers type: huge and negative numbers, exponent notation,
#: weekday names, dates in other formats, empty and blank, NUL, very long text, markup.
JUNK = (
    "",
    " ",
    "99999999999999999999999",
    str(2**63),
    "-1",
    "1e20",
    "NaN",
    "sat",
    "07.12.2026",
    "2026-13-45T25:61",
    "25:99",
    "x\x00y",
    "ü" * 5000,
    "<script>alert(1)</script>",
    "[]",
    "0",
)
#: Pages and forms the walk leaves alone: signing out ends the walk itself.
SKIP_PATHS = re.compile(r"^/(logout|login|static/|kiosk/|metrics|api/|v2/|ping/)")


@dataclass
class Form:
    page: str
    action: str
    method: str
    fields: list[tuple[str, str]] = field(default_factory=list)  # (name, value as the page set)
    options: dict[str, list[str]] = field(default_factory=dict)

    @property
    def names(self) -> list[str]:
        seen: dict[str, None] = {}
        for name, _value in self.fields:
            if name != "csrf_token":
                seen.setdefault(name)
        return list(seen)


class PageReader(HTMLParser):
    """Links and forms of one HTML page (stdlib parser: tolerant, no extra dependency)."""

    def __init__(self, page: str) -> None:
        super().__init__(convert_charrefs=True)
        self.page = page
        self.links: list[str] = []
        self.forms: list[Form] = []
        self._form: Form | None = None
        self._select: str | None = None
        self._textarea: str | None = None
        self._text = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "a" and a.get("href"):
            self.links.append(urljoin(self.page, a["href"]))
        elif tag == "form":
            method = (a.get("method") or "get").lower()
            self._form = Form(self.page, urljoin(self.page, a.get("action") or self.page), method)
            self.forms.append(self._form)
        elif self._form is None:
            return
        elif tag == "input" and a.get("name"):
            kind = a.get("type", "text").lower()
            if kind in ("submit", "button", "image", "reset", "file"):
                if kind == "submit":
                    self._form.fields.append((a["name"], a.get("value", "")))
                return
            if kind in ("checkbox", "radio") and "checked" not in a:
                self._form.options.setdefault(a["name"], []).append(a.get("value", "on"))
                return
            self._form.fields.append((a["name"], a.get("value", "")))
        elif tag == "select" and a.get("name"):
            self._select = a["name"]
            self._form.fields.append((self._select, ""))
        elif tag == "option" and self._select:
            self._form.options.setdefault(self._select, []).append(a.get("value", ""))
        elif tag == "textarea" and a.get("name"):
            self._textarea, self._text = a["name"], ""
        elif tag == "button" and a.get("name"):
            self._form.fields.append((a["name"], a.get("value", "")))

    def handle_data(self, data: str) -> None:
        if self._textarea:
            self._text += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._form = None
        elif tag == "select" and self._form is not None and self._select:
            options = self._form.options.get(self._select) or [""]
            self._form.fields = [
                (n, options[0] if n == self._select and not v else v) for n, v in self._form.fields
            ]
            self._select = None
        elif tag == "textarea" and self._form is not None and self._textarea:
            self._form.fields.append((self._textarea, self._text))
            self._textarea = None


def url_kind(path: str) -> str:
    """``/incidents/17`` and ``/incidents/18`` are one kind of page: visit one of them."""
    return re.sub(r"/\d+(?=/|$|\.)", "/{id}", path)


class LastErrors(logging.Handler):
    """The last lines of the tracebacks the app logged (what a 5xx was about)."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[str] = []
        logging.getLogger("dutydesk.errors").addHandler(self)

    def emit(self, record: logging.LogRecord) -> None:
        if record.exc_info and record.exc_info[1] is not None:
            exc = record.exc_info[1]
            self.records.append(f"{type(exc).__name__}: {str(exc)[:300]}")


@dataclass
class Walk:
    app: Any
    db: Database
    client: Any = None
    errors: LastErrors = field(default_factory=lambda: LastErrors())
    requests: int = 0
    failures: dict[str, str] = field(default_factory=dict)

    def sign_in(self) -> None:
        """(Re)sign in as the admin; junk may have changed the admin's own password."""
        with self.db.session() as s:
            admin = s.scalar(select(User).where(User.email == ADMIN))
            accounts.update_user(s, "fuzz", admin, password=PASSWORDS.admin_password,
                                 active=True, role=Role.ADMIN.value)
        self.client = self.app.test_client()
        response = login(self.client, ADMIN, PASSWORDS.admin_password)
        assert response.status_code == 302, response.get_data(as_text=True)[:500]

    def send(self, method: str, path: str, data: Any = None) -> Any:
        self.requests += 1
        payload = MultiDict(data) if data is not None else None
        if method == "get":
            response = self.client.get(path, query_string=payload)
        else:
            response = self.client.post(path, data=payload)
        if response.status_code >= 500:
            key = f"{method.upper()} {url_kind(path)} -> {response.status_code}"
            cause = self.errors.records[-1] if self.errors.records else ""
            self.failures.setdefault(key, f"sent {data!r}"[:400] + f"\n    {cause}")
        if response.status_code == 302 and "/login" in response.headers.get("Location", ""):
            self.sign_in()  # the junk signed us out (a password or a role changed): carry on
        return response

    def crawl(self) -> tuple[list[str], list[Form]]:
        queue, seen_kinds, pages, forms = deque(["/"]), set(), [], []
        seen_forms: set[tuple[str, str, tuple[str, ...]]] = set()
        while queue and len(pages) < MAX_PAGES:
            path = queue.popleft()
            kind = url_kind(path)
            if kind in seen_kinds or SKIP_PATHS.match(path):
                continue
            seen_kinds.add(kind)
            response = self.send("get", path)
            if response.status_code != 200 or response.mimetype != "text/html":
                continue
            pages.append(path)
            reader = PageReader(path)
            reader.feed(response.get_data(as_text=True))
            for form in reader.forms:
                action = urlsplit(form.action).path
                kind = (form.method, url_kind(action), tuple(sorted(form.names)))
                if not SKIP_PATHS.match(action) and kind not in seen_forms:
                    seen_forms.add(kind)  # the same form on many pages (or rows) is fuzzed once
                    forms.append(form)
            for link in reader.links:
                parts = urlsplit(link)
                if parts.netloc in ("", "localhost") and parts.path.startswith("/"):
                    queue.append(parts.path + (f"?{parts.query}" if parts.query else ""))
        return pages, forms

    def fresh_token(self, form: Form) -> str:
        html = self.client.get(urlsplit(form.page).path).get_data(as_text=True)
        found = re.search(r'name="csrf_token" value="([^"]+)"', html) or re.search(
            r'name="csrf-token" content="([^"]+)"', html
        )
        return found.group(1) if found else ""

    def fuzz(self, form: Form) -> int:
        """Every field junk together (one post per junk value), then each field junk alone."""
        sent = 0
        target = urlsplit(form.action)
        # A GET form replaces the action's query with its fields, as browsers do.
        path = target.path + (f"?{target.query}" if target.query and form.method != "get" else "")
        token = self.fresh_token(form)
        base = [(n, v) for n, v in form.fields if n != "csrf_token"]
        for junk in JUNK:
            data = [(n, junk) for n, _v in base] + [("csrf_token", token)]
            self.send(form.method, path, data)
            sent += 1
        for index, name in enumerate(form.names):
            for junk in (JUNK[(index * 5 + k) % len(JUNK)] for k in range(3)):
                data = [(n, junk if n == name else v) for n, v in base]
                self.send(form.method, path, [*data, ("csrf_token", token)])
                sent += 1
        return sent


@pytest.fixture
def walk(app: Any, db: Database, settings: Settings, api_token: Any) -> Walk:
    seed_world(app, db, settings, api_token(Role.ADMIN))
    walker = Walk(app, db)
    walker.sign_in()
    return walker


def test_junk_in_any_form_is_refused_with_4xx_never_5xx(walk: Walk) -> None:
    started = time.perf_counter()
    pages, forms = walk.crawl()
    assert len(pages) > 20 and len(forms) > 15  # the walk reached the whole site
    posts = sum(walk.fuzz(form) for form in forms)
    elapsed = time.perf_counter() - started
    print(
        f"\nform fuzz: {len(pages)} pages, {len(forms)} forms, {posts} junk submissions, "
        f"{walk.requests} requests in {elapsed:.0f} s; {len(walk.failures)} distinct 5xx"
    )
    assert not walk.failures, "\n".join(f"{k}: {v}" for k, v in walk.failures.items())
