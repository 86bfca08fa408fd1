"""Security headers: a Content-Security-Policy that forbids inline script on every page, HSTS when
the site is served over https, and templates that need no inline script to work."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from dutydesk.app import create_app
from dutydesk.core.config import load_settings
from dutydesk.core.db import Database
from dutydesk.models import Role

TEMPLATES = Path(__file__).resolve().parents[2] / "templates"


def test_every_page_forbids_inline_script(signed_in: Any) -> None:
    client = signed_in(Role.ADMIN)
    for path in ("/", "/login", "/incidents", "/checks", "/wall", "/status", "/no-such-page"):
        policy = client.get(path).headers["Content-Security-Policy"]
        directives = dict(d.strip().split(" ", 1) for d in policy.split(";"))
        assert directives["script-src"] == "'self'", path
        assert directives["object-src"] == "'none'"
        assert directives["frame-ancestors"] == "'self'"


def test_hsts_is_sent_only_when_the_base_url_is_https(settings: Any, db: Database) -> None:
    plain = create_app(settings, db=db).test_client().get("/login")
    assert "Strict-Transport-Security" not in plain.headers
    https = load_settings({**_overrides(settings), "base_url": "https://duty.dc.example"},
                          environ={})
    secure = create_app(https, db=db).test_client().get("/login")
    assert secure.headers["Strict-Transport-Security"] == "max-age=31536000"


def _overrides(settings: Any) -> dict[str, Any]:
    return {"env": settings.env, "database_url": settings.database_url,
            "secret_key": settings.secret_key, "instance_path": settings.instance_path}


_INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)(?![^>]*type=\"application/json\")[^>]*>")
_HANDLER = re.compile(r"\son[a-z]+\s*=", re.IGNORECASE)


@pytest.mark.parametrize("template", sorted(p.relative_to(TEMPLATES).as_posix()
                                            for p in TEMPLATES.rglob("*.html")))
def test_no_template_carries_inline_script_or_event_handlers(template: str) -> None:
    text = (TEMPLATES / template).read_text(encoding="utf-8")
    assert not _INLINE_SCRIPT.search(text), "inline <script> (move it to dutydesk/static/js)"
    assert not _HANDLER.search(text), "inline event handler (use data-confirm / data-print)"
    assert "javascript:" not in text
