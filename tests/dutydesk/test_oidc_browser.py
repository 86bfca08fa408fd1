"""Single sign-on in Chromium: the button on the sign-in page, the provider's own pages
(panva's oidc-provider), back to DutyDesk signed in; signing out passes through the provider's
logout page (the page's CSP lets the sign-out form lead there) and ends at the sign-in page."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from werkzeug.serving import make_server

from dutydesk.app import create_app
from dutydesk.core.config import Settings
from dutydesk.core.db import Database
from dutydesk.models import Role

from .ldap_server import free_port
from .oidc_peer import OidcPeer, node_binary, start_provider
from .test_accessibility_browser import axe
from .test_oidc_sign_in import REQUIRE_OIDC, _user, oidc_config, skip_or_fail

pytestmark = pytest.mark.browser


@pytest.fixture
def served(settings: Settings, db: Database, tmp_path: Path) -> Iterator[tuple[str, OidcPeer]]:
    """DutyDesk on a real port (its base_url the provider sends people back to) and a provider
    that knows that address."""
    if node_binary() is None:
        skip_or_fail("Node.js is not installed: the OpenID Connect tests run oidc-provider",
                     REQUIRE_OIDC)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    try:
        provider = start_provider(tmp_path, free_port(), base)
    except Exception as exc:
        skip_or_fail(f"oidc-provider could not be started: {exc}", REQUIRE_OIDC)
    app = create_app(dataclasses.replace(settings, base_url=base,
                                         oidc=oidc_config(provider.issuer)), db=db)
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield base, provider
    server.shutdown()
    server.server_close()
    provider.stop()


def test_a_shift_lead_signs_in_with_single_sign_on_and_out_again(
    served: tuple[str, OidcPeer], page: Any, db: Database, output_dir: Path
) -> None:
    url, provider = served
    page.goto(url + "/login")
    assert axe(page) == []
    page.screenshot(path=str(output_dir / "sso-login.png"), full_page=True)
    page.click("text=Sign in with Corp SSO")
    page.wait_for_url(provider.issuer + "/**")
    page.fill("input[name=login]", "olena")
    page.fill("input[name=password]", "any-password")
    page.click("button[type=submit]")
    page.wait_for_load_state()
    page.click("button:has-text('Continue')")  # the provider's consent page
    page.wait_for_url(url + "/")
    assert "Olena Oidc" in page.locator(".who").inner_text()
    assert _user(db, "olena.oidc@corp.example").role is Role.SHIFT_LEAD

    page.click(".who button[type=submit]")  # sign out: through the provider's logout page
    page.wait_for_url(provider.issuer + "/**")
    page.click("button[name=logout]")
    page.wait_for_url(url + "/login")
    assert page.locator("text=Sign in with Corp SSO").is_visible()
