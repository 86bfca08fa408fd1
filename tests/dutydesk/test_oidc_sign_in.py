"""Signing in with OpenID Connect against a real provider (panva's oidc-provider, started by the
fixture): the code flow with PKCE, accounts made on first sign-in and kept up to date, groups
mapped to roles as the directory's are, every refusal clear and creating nothing, the provider
down while the break-glass admin still signs in, and the provider's session ended at sign-out."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
from sqlalchemy import select

from dutydesk.app import create_app
from dutydesk.core.config import Settings
from dutydesk.core.db import Database
from dutydesk.core.oidc import OidcConfig, parse_config
from dutydesk.models import AuditEntry, Role, User

from ..conftest import PASSWORD, csrf_from, login, make_user, skip_or_fail
from .ldap_server import free_port
from .oidc_peer import CLIENT_ID, CLIENT_SECRET, Browser, OidcPeer, node_binary, start_provider

REQUIRE_OIDC = os.environ.get("DUTYDESK_REQUIRE_OIDC") == "1"
APP_BASE = "http://127.0.0.1:8080"  # the tests' base_url: where the provider sends people back


@pytest.fixture(scope="module")
def backchannel_port() -> int:
    """Where a test serves DutyDesk for real to hear the provider's back-channel logout."""
    return free_port()


@pytest.fixture(scope="module")
def provider(tmp_path_factory: pytest.TempPathFactory, backchannel_port: int
             ) -> Iterator[OidcPeer]:
    if node_binary() is None:
        skip_or_fail("Node.js is not installed: the OpenID Connect tests run oidc-provider "
                     "(apt-get install nodejs npm)", REQUIRE_OIDC)
    backchannel = f"http://127.0.0.1:{backchannel_port}/login/oidc/backchannel"
    try:
        peer = start_provider(tmp_path_factory.mktemp("oidc"), free_port(), APP_BASE,
                              backchannel)
    except Exception as exc:  # npm cannot reach the registry, …
        skip_or_fail(f"oidc-provider could not be started: {exc}", REQUIRE_OIDC)
    yield peer
    peer.stop()


def oidc_config(issuer: str, **change: Any) -> OidcConfig:
    return parse_config({
        "issuer": issuer, "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET,
        "scopes": "openid email profile groups", "label": "Corp SSO",
        "groups": {"dc-duty": "engineer", "dc-leads": "shift_lead"}, "timeout": 3, **change,
    })


@pytest.fixture
def app(settings: Settings, db: Database, provider: OidcPeer) -> Any:
    assert settings.base_url == APP_BASE
    return create_app(dataclasses.replace(settings, oidc=oidc_config(provider.issuer)), db=db)


def _browser(app: Any) -> Browser:
    return Browser(app.test_client(), APP_BASE)


def _user(db: Database, email: str) -> User | None:
    with db.session() as s:
        return s.scalar(select(User).where(User.email == email))


def _count(db: Database) -> int:
    with db.session() as s:
        return len(list(s.scalars(select(User.id))))


def test_the_login_page_offers_the_provider(app: Any) -> None:
    page = app.test_client().get("/login").get_data(as_text=True)
    assert "Sign in with Corp SSO" in page


def test_first_sign_in_creates_the_account_with_the_role_of_its_groups(
    app: Any, db: Database, provider: OidcPeer
) -> None:
    browser = _browser(app)
    response = browser.sign_in("ivan", next_url="/incidents")
    assert response.status_code == 302 and response.headers["Location"] == "/incidents"
    assert "Ivan Oidc" in browser.client.get("/").get_data(as_text=True)
    user = _user(db, "ivan.oidc@corp.example")
    assert user is not None and user.role is Role.ENGINEER and user.language == "uk"
    assert user.oidc_subject == f"{provider.issuer} ivan" and user.directory_dn is None
    # a group in another case maps all the same; the next sign-in updates the same account
    lead = _browser(app)
    assert lead.sign_in("olena").status_code == 302
    assert _user(db, "olena.oidc@corp.example").role is Role.SHIFT_LEAD
    provider.set_groups("ivan", ["dc-leads"])
    try:
        assert _browser(app).sign_in("ivan").status_code == 302
        again = _user(db, "ivan.oidc@corp.example")
        assert again.id == user.id and again.role is Role.SHIFT_LEAD
        with db.session() as s:
            assert s.scalar(select(AuditEntry).where(AuditEntry.action == "update",
                                                     AuditEntry.entity_id == str(user.id)))
    finally:
        provider.set_groups("ivan", ["dc-duty"])


@pytest.mark.parametrize(
    ("account", "status", "says"),
    [
        ("stepan", 403, "in no group that may use DutyDesk"),
        ("unverified", 401, "could not be verified"),
    ],
)
def test_refused_sign_ins_are_clear_logged_and_create_nothing(
    app: Any, db: Database, caplog: pytest.LogCaptureFixture, account: str, status: int,
    says: str,
) -> None:
    browser = _browser(app)
    response = browser.sign_in(account)
    assert response.status_code == status
    assert says in response.get_data(as_text=True)
    assert _count(db) == 0
    assert any("OpenID Connect sign-in refused" in r.getMessage() for r in caplog.records)
    assert browser.client.get("/").status_code == 302


def test_a_provider_account_never_takes_over_a_local_account_with_the_same_email(
    app: Any, db: Database
) -> None:
    admin = make_user(db, Role.ADMIN, email="breakglass@dc.example")
    response = _browser(app).sign_in("mallory")
    assert response.status_code == 409
    assert "already uses your email" in response.get_data(as_text=True)
    kept = _user(db, "breakglass@dc.example")
    assert kept.id == admin.id and kept.oidc_subject is None and kept.role is Role.ADMIN
    assert login(app.test_client(), admin.email, PASSWORD).status_code == 302


def test_a_replayed_callback_or_code_and_a_forged_state_are_refused(app: Any, db: Database) -> None:
    browser = _browser(app)
    callback = browser.callback_url("ivan")
    assert browser.client.get(callback).status_code == 302  # signed in
    first = _user(db, "ivan.oidc@corp.example")
    # the same answer again: its state was taken once (said in Ivan's language, from the
    # provider's locale claim)
    again = browser.client.get(callback)
    assert again.status_code == 400
    assert "Цей вхід уже використано" in again.get_data(as_text=True)
    # the code again, under a fresh state of this browser: the provider refuses it
    fresh = parse_qs(urlparse(browser.client.get("/login/oidc").headers["Location"]).query)
    code = parse_qs(urlparse(callback).query)["code"][0]
    replay = browser.client.get(f"/login/oidc/callback?code={code}&state={fresh['state'][0]}")
    assert replay.status_code == 401
    # a state this browser never started
    forged = _browser(app).client.get("/login/oidc/callback?code=x&state=made-up")
    assert forged.status_code == 400
    assert _count(db) == 1 and _user(db, "ivan.oidc@corp.example").id == first.id


def test_the_provider_saying_no_is_refused(app: Any) -> None:
    browser = _browser(app)
    state = parse_qs(urlparse(browser.client.get("/login/oidc").headers["Location"]).query)
    answer = browser.client.get(
        f"/login/oidc/callback?error=access_denied&state={state['state'][0]}")
    assert answer.status_code == 403
    assert "did not sign you in" in answer.get_data(as_text=True)


def test_removed_from_the_group_loses_access_at_the_next_sign_in(
    app: Any, db: Database, provider: OidcPeer
) -> None:
    browser = _browser(app)
    assert browser.sign_in("ivan").status_code == 302
    provider.set_groups("ivan", ["staff"])
    try:
        refused = _browser(app).sign_in("ivan")
        assert refused.status_code == 403
        assert browser.client.get("/").status_code == 302  # the earlier session ended too
        user = _user(db, "ivan.oidc@corp.example")
        assert not user.active and user.directory_disabled_at is not None
    finally:
        provider.set_groups("ivan", ["dc-duty"])
    assert _browser(app).sign_in("ivan").status_code == 302  # back in the group, back in
    assert _user(db, "ivan.oidc@corp.example").active


def test_when_the_provider_is_down_the_local_admin_still_signs_in(
    settings: Settings, db: Database
) -> None:
    dead = oidc_config(f"http://127.0.0.1:{free_port()}", timeout=1)
    app = create_app(dataclasses.replace(settings, oidc=dead), db=db)
    admin = make_user(db, Role.ADMIN, email="breakglass@dc.example")
    client = app.test_client()
    refused = client.get("/login/oidc")
    assert refused.status_code == 503
    assert "cannot be reached" in refused.get_data(as_text=True)
    assert login(client, admin.email, PASSWORD).status_code == 302
    assert client.get("/admin/users").status_code == 200


def test_signing_out_ends_the_providers_session_too(app: Any, provider: OidcPeer) -> None:
    browser = _browser(app)
    assert browser.sign_in("ivan").status_code == 302
    token = csrf_from(browser.client.get("/account").get_data(as_text=True))
    out = browser.client.post("/logout", data={"csrf_token": token})
    assert out.status_code == 302
    target = out.headers["Location"]
    assert target.startswith(provider.issuer + "/session/end")
    assert "id_token_hint=" in target and "post_logout_redirect_uri=" in target
    back = browser.follow(target)  # the provider asks, signs out, sends us to /login
    assert back.status_code == 200 and "Sign in with Corp SSO" in back.get_data(as_text=True)
    assert browser.client.get("/").status_code == 302
    # the provider forgot them: signing in again asks who they are (a login page comes up)
    again = browser.client.get("/login/oidc").headers["Location"]
    page = browser.web.get(again, timeout=10)
    assert 'name="login"' in page.text, page.text[-1500:]


def test_the_sign_out_form_may_lead_to_the_provider(app: Any, provider: OidcPeer) -> None:
    csp = app.test_client().get("/login").headers["Content-Security-Policy"]
    assert f"form-action 'self' {provider.issuer}" in csp


def test_config_problems_are_listed_in_words(tmp_path: Path) -> None:
    with pytest.raises(ValueError) as raised:
        parse_config({"issuer": "http://sso.corp.example", "scopes": "email",
                      "groups": {"dc-duty": "boss"}, "clock_skew": 3600})
    text = str(raised.value)
    for words in ("oidc.issuer: expected the provider's https://", "oidc.client_id: required",
                  "oidc.scopes: must include 'openid'", "oidc.groups.dc-duty: unknown role",
                  "oidc.clock_skew: whole seconds between 0 and 300"):
        assert words in text


def _requests_of(db: Database, settings: Settings, *emails: str) -> list[int]:
    from dutydesk.core.db import utcnow
    from dutydesk.requests import service as req
    from shifts.notices import service as svc

    with db.session() as s:
        svc.save_service(s, "admin", slug="mail", name="Mail", now=utcnow())
        ids = [req.create_request(s, settings, "x", req.Requester(e), service="mail",
                                  subject=f"Mail of {e}", description="d", now=utcnow()).id
               for e in emails]
        s.commit()
    return ids


def test_an_employee_in_no_mapped_group_sees_their_own_requests_without_a_link(
    settings: Settings, db: Database, provider: OidcPeer
) -> None:
    cfg = oidc_config(provider.issuer, requesters=["staff"])
    app = create_app(dataclasses.replace(settings, oidc=cfg), db=db)
    mine, other = _requests_of(db, settings, "stepan.oidc@corp.example", "boss@corp.example")
    browser = _browser(app)
    response = browser.sign_in("stepan", next_url="/help")
    assert response.status_code == 302 and response.headers["Location"] == "/help"
    page = browser.client.get("/help").get_data(as_text=True)
    assert "You write as stepan.oidc@corp.example" in page
    assert "Mail of stepan.oidc@corp.example" in page and "boss@corp.example" not in page
    assert browser.client.get(f"/help/mine/{mine}").status_code == 200
    assert browser.client.get(f"/help/mine/{other}").status_code == 404
    # a requester, nothing more: no account, every other screen as for a stranger
    assert _count(db) == 0
    assert browser.client.get("/incidents").status_code == 302
    # an address the provider did not verify never opens anyone's requests
    assert _browser(app).sign_in("unverified").status_code == 401
    token = csrf_from(browser.client.get("/help").get_data(as_text=True))
    out = browser.client.post("/logout", data={"csrf_token": token})
    assert out.headers["Location"].startswith(provider.issuer + "/session/end")
    assert browser.client.get(f"/help/mine/{mine}").status_code == 302  # to the sign-in page


def test_the_admin_page_shows_the_config_without_the_secret_and_tests_the_provider(
    app: Any, db: Database, settings: Settings, provider: OidcPeer
) -> None:
    admin = make_user(db, Role.ADMIN, email="breakglass@dc.example")
    browser = _browser(app)
    assert login(browser.client, admin.email, PASSWORD).status_code == 302
    page = browser.client.get("/admin/sso").get_data(as_text=True)
    assert provider.issuer in page and CLIENT_SECRET not in page and "(set)" in page
    assert f"{APP_BASE}/login/oidc/callback" in page
    token = csrf_from(page)
    tested = browser.client.post("/admin/sso", data={"csrf_token": token}).get_data(as_text=True)
    assert "discovery document read, issuer matches" in tested
    assert "RP-initiated logout offered" in tested
    # a dry run: who the provider names and what they would get; nobody signed in or made
    start = browser.client.get("/login/oidc?try=1")
    result = browser.follow(start.headers["Location"], "stepan").get_data(as_text=True)
    assert "none of the mapped groups" in result
    start = browser.client.get("/login/oidc?try=1")
    result = browser.follow(start.headers["Location"], "ivan").get_data(as_text=True)
    assert "signs in as engineer" in result and "dc-duty" in result
    assert _user(db, "ivan.oidc@corp.example") is None
    assert browser.client.get("/admin/sso").status_code == 200  # still the admin
    # only an admin may try
    assert _browser(app).client.get("/login/oidc?try=1").status_code == 403
    # a provider that cannot be reached: the stage is named
    dead = create_app(dataclasses.replace(
        settings, oidc=oidc_config(f"http://127.0.0.1:{free_port()}", timeout=1)), db=db)
    other = dead.test_client()
    assert login(other, admin.email, PASSWORD).status_code == 302
    page = other.post("/admin/sso", data={"csrf_token": csrf_from(
        other.get("/admin/sso").get_data(as_text=True))}).get_data(as_text=True)
    assert "Provider: the discovery document or the keys could not be read" in page


JUNK = ["", " ", "x" * 5000, "%00", "привіт", "<script>", "' OR 1=1 --", "-1", "1e309",
        "a&state=b", "%ZZ"]


def test_junk_at_the_callback_and_the_start_is_a_4xx_never_a_5xx(app: Any, db: Database) -> None:
    from urllib.parse import quote

    browser = _browser(app)
    state = parse_qs(urlparse(browser.client.get("/login/oidc").headers["Location"]).query)
    real = state["state"][0]
    for junk in JUNK:
        for query in (f"code={quote(junk)}&state={quote(junk)}",
                      f"code={quote(junk)}&state={real}", f"error={quote(junk)}&state={real}",
                      f"error_description={quote(junk)}", quote(junk)):
            answer = browser.client.get(f"/login/oidc/callback?{query}")
            assert 400 <= answer.status_code < 500, (query[:80], answer.status_code)
            browser.client.get("/login/oidc")  # a fresh pending sign-in for the next try
            real = parse_qs(urlparse(browser.client.get("/login/oidc").headers["Location"])
                            .query)["state"][0]
        assert browser.client.get(f"/login/oidc?next={quote(junk)}").status_code == 302
        assert browser.client.get(f"/login/oidc?try={quote(junk)}").status_code in (302, 403)
    assert _count(db) == 0


def test_signing_out_at_the_provider_ends_the_dutydesk_sessions_too(
    app: Any, db: Database, provider: OidcPeer, backchannel_port: int
) -> None:
    import threading

    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", backchannel_port, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        browser = _browser(app)
        assert browser.sign_in("ivan").status_code == 302
        other_device = _browser(app)
        assert other_device.sign_in("ivan").status_code == 302
        assert browser.client.get("/").status_code == 200
        # the person signs out at the provider itself (not from DutyDesk)
        browser.follow(f"{provider.issuer}/session/end")
        assert browser.client.get("/").status_code == 302, "".join(provider.output)[-1500:]
        assert other_device.client.get("/").status_code == 302  # every session ended
        with db.session() as s:
            assert s.scalar(select(AuditEntry).where(AuditEntry.summary.like(
                "%back-channel logout%")))
    finally:
        server.shutdown()
        server.server_close()
    # a forged logout token is refused and ends nothing
    again = _browser(app)
    assert again.sign_in("ivan").status_code == 302
    forged = app.test_client().post("/login/oidc/backchannel", data={"logout_token": "a.b.c"})
    assert forged.status_code == 400 and forged.headers["Cache-Control"] == "no-store"
    assert again.client.get("/").status_code == 200


def test_an_account_an_admin_disabled_stays_disabled_whatever_the_provider_says(
    app: Any, db: Database
) -> None:
    assert _browser(app).sign_in("ivan").status_code == 302
    with db.session() as s:
        s.scalar(select(User).where(User.email == "ivan.oidc@corp.example")).active = False
        s.commit()
    refused = _browser(app).sign_in("ivan")
    assert refused.status_code == 401
    assert not _user(db, "ivan.oidc@corp.example").active
