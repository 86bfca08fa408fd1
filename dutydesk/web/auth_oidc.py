"""Sign-in with an OpenID Connect provider: the authorization code flow with PKCE (``authlib``'s
OAuth 2 client over ``requests``), the just-in-time account (or a requester's help-desk
session), RP-initiated logout and back-channel logout (``/login/oidc/backchannel``).

``/login/oidc`` sends the browser to the provider with a fresh ``state``, ``nonce`` and PKCE
``code_verifier`` (S256) kept in the signed session; ``/login/oidc/callback`` takes each of them
once, swaps the code for tokens, checks the ID token (:func:`dutydesk.core.oidc.validate_id_token`)
and signs the person in with the role their groups map to — the same rules as the directory.
The discovery document and JWKS are cached per process (an hour; an unknown key id fetches the
JWKS again, at most once a minute). Local accounts never depend on the provider: the
break-glass admins sign in with their password while it is down.
"""

from __future__ import annotations

import hmac
import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import requests
from authlib.common.security import generate_token
from authlib.integrations.base_client import OAuthError
from authlib.integrations.requests_client import OAuth2Session
from flask import Blueprint, abort, current_app, redirect, render_template, request, session
from flask_babel import gettext as _
from sqlalchemy import select

from dutydesk.context import app_state, db_session, principal, settings
from dutydesk.core import audit
from dutydesk.core.db import utcnow
from dutydesk.core.oidc import (
    OidcConfig,
    OidcError,
    check_metadata,
    person_from_claims,
    subject_key,
    validate_logout_token,
)
from dutydesk.core.oidc import validate_id_token as _validate
from dutydesk.models import Role, User
from dutydesk.web.auth_ldap import DirectoryError, take_access_away, upsert_user

bp = Blueprint("oidc", __name__)
log = logging.getLogger("dutydesk.auth")

METADATA_TTL_S = 3600
JWKS_REFRESH_MIN_S = 60  # an unknown key id fetches the keys again, at most this often
FLOW_MAX_AGE_S = 600  # a sign-in started and not finished within ten minutes starts again
FLOW_KEY = "oidc_flow"
ID_TOKEN_KEY = "oidc_id_token"


@dataclass
class ProviderCache:
    """The provider's discovery document and keys, fetched lazily and shared by the process."""

    cfg: OidcConfig
    metadata: dict[str, Any] | None = None
    metadata_at: float = 0.0
    jwks: dict[str, Any] | None = None
    jwks_at: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def _get(self, url: str) -> Any:
        try:
            response = requests.get(url, timeout=self.cfg.timeout,
                                    verify=self.cfg.ca_file or True, allow_redirects=False)
            response.raise_for_status()
            return response.json()
        except (requests.RequestException, ValueError) as exc:
            raise OidcError("provider", f"cannot read {url}: {type(exc).__name__}: "
                            f"{str(exc)[:300]}") from None

    def provider_metadata(self) -> dict[str, Any]:
        with self.lock:
            if self.metadata is None or time.monotonic() - self.metadata_at > METADATA_TTL_S:
                self.metadata = check_metadata(self._get(self.cfg.discovery_url), self.cfg.issuer)
                self.metadata_at = time.monotonic()
            return self.metadata

    def keys(self, fresh: bool) -> dict[str, Any]:
        """The provider's JWKS; ``fresh`` fetches it again (key rotation), rate-limited."""
        uri = self.provider_metadata()["jwks_uri"]
        with self.lock:
            stale = self.jwks is None or (
                fresh and time.monotonic() - self.jwks_at > JWKS_REFRESH_MIN_S)
            if stale:
                keys = self._get(uri)
                if not isinstance(keys, dict) or not isinstance(keys.get("keys"), list):
                    raise OidcError("provider", f"{uri} is not a JSON Web Key Set")
                self.jwks, self.jwks_at = keys, time.monotonic()
            assert self.jwks is not None
            return self.jwks


def provider_cache() -> ProviderCache:
    cfg = settings().oidc
    cache = current_app.extensions.get("dutydesk_oidc")
    if cache is None or cache.cfg is not cfg:
        cache = current_app.extensions["dutydesk_oidc"] = ProviderCache(cfg)
    return cache


def _callback_url() -> str:
    return settings().base_url.rstrip("/") + "/login/oidc/callback"


def _client(cfg: OidcConfig) -> OAuth2Session:
    client = OAuth2Session(
        cfg.client_id, cfg.client_secret or None, scope=" ".join(cfg.scopes),
        redirect_uri=_callback_url(), code_challenge_method="S256",
        token_endpoint_auth_method="client_secret_basic" if cfg.client_secret else "none",
    )
    client.verify = cfg.ca_file or True
    return client


def refusal(stage: str) -> tuple[str, int]:
    """What the person reads when an OpenID Connect sign-in fails at ``stage``, and the status."""
    if stage == "provider":
        return _("The sign-in provider cannot be reached, so company accounts cannot sign in "
                 "now. Local admin accounts still can."), 503
    if stage == "state":
        return _("This sign-in was already used or took too long. Start again."), 400
    if stage == "denied":
        return _("The sign-in provider did not sign you in."), 403
    if stage == "no_group":
        return _("Your company account is in no group that may use DutyDesk. Ask an admin "
                 "or your shift lead to add you to the right group."), 403
    if stage == "conflict":
        return _("A local DutyDesk account already uses your email address. Ask an admin to "
                 "remove or rename it, then sign in with the directory again."), 409
    if stage == "disabled":
        return _("Wrong email or password, or the account is disabled."), 401
    return _("The sign-in provider's answer could not be verified, so you are not signed in. "
             "Start again; if it keeps failing, tell an admin."), 401


def _refuse(exc: OidcError | DirectoryError) -> Any:
    log.warning("OpenID Connect sign-in refused at %s: %s", exc.stage, exc.detail)
    app_state().metrics.login_failures.inc()
    message, status = refusal(exc.stage)
    return render_template("auth/login.html", next="/", email="", error=message), status


def check_provider(cfg: OidcConfig) -> str:
    """Read the discovery document and the keys afresh; a line saying what the provider offers,
    or :class:`OidcError` saying what is wrong (the admin page's "test the provider")."""
    fresh = ProviderCache(cfg)
    metadata = fresh.provider_metadata()
    keys = fresh.keys(False)["keys"]
    kids = ", ".join(str(k.get("kid", "?")) for k in keys if isinstance(k, dict)) or "none"
    logout = "offered" if metadata.get("end_session_endpoint") else "not offered"
    return (f"{cfg.issuer}: discovery document read, issuer matches; {len(keys)} signing "
            f"key(s) ({kids}); PKCE S256; RP-initiated logout {logout}")


@bp.route("/login/oidc")
def start() -> Any:
    """Send the browser to the provider (state, nonce and PKCE kept in the session). An admin's
    ``?try=1`` is a dry run: the callback shows who the provider names and the role they would
    get, and signs nobody in."""
    from dutydesk.web.auth import _safe_next

    cfg = settings().oidc
    if cfg is None:
        abort(404)
    dry = request.args.get("try") == "1"
    if dry and (principal().role is not Role.ADMIN):
        abort(403)
    try:
        metadata = provider_cache().provider_metadata()
    except OidcError as exc:
        return _refuse(exc)
    verifier, nonce = generate_token(64), generate_token(32)
    extra = {"prompt": "login"} if dry else {}  # a test asks who, whoever is signed in there
    url, state = _client(cfg).create_authorization_url(
        metadata["authorization_endpoint"], nonce=nonce, code_verifier=verifier, **extra)
    session[FLOW_KEY] = {"state": state, "nonce": nonce, "verifier": verifier, "dry": dry,
                         "next": _safe_next(request.args.get("next")), "at": int(time.time())}
    return redirect(url)


def _flow() -> dict[str, Any]:
    """This browser's pending sign-in, taken once: a replayed callback finds nothing."""
    flow = session.pop(FLOW_KEY, None)
    state = request.args.get("state", "")
    if (not isinstance(flow, dict) or not isinstance(flow.get("state"), str)
            or not hmac.compare_digest(flow["state"].encode(), state.encode())):
        raise OidcError("state", "no sign-in with this state is pending in this browser "
                        "(replayed, forged or from another browser)")
    if time.time() - flow.get("at", 0) > FLOW_MAX_AGE_S:
        raise OidcError("state", "the sign-in was started more than ten minutes ago")
    return flow


def _claims(cfg: OidcConfig, cache: ProviderCache, flow: dict[str, Any]) -> tuple[dict, str]:
    if request.args.get("error"):
        raise OidcError("denied", f"the provider answered {request.args['error'][:80]!r}: "
                        f"{request.args.get('error_description', '')[:200]}")
    code = request.args.get("code", "")
    if not code:
        raise OidcError("token", "the provider's answer has no code")
    metadata = cache.provider_metadata()
    try:
        with _client(cfg) as client:
            token = client.fetch_token(metadata["token_endpoint"], code=code,
                                       code_verifier=flow["verifier"], timeout=cfg.timeout)
    except (OAuthError, requests.RequestException, ValueError) as exc:
        raise OidcError("token", f"the code was not exchanged for tokens (replayed or expired "
                        f"code?): {type(exc).__name__}: {str(exc)[:300]}") from None
    id_token = token.get("id_token")
    if not isinstance(id_token, str):
        raise OidcError("id_token", "the token response has no ID token (is 'openid' a scope?)")
    claims = _validate(id_token, cfg=cfg, metadata=metadata, keys=cache.keys,
                       nonce=flow["nonce"], now=utcnow(), access_token=token.get("access_token"))
    missing = cfg.groups_claim.split(".")[0] not in claims or cfg.claims["email"] not in claims
    if missing and metadata.get("userinfo_endpoint") and token.get("access_token"):
        claims = {**_userinfo(cfg, metadata["userinfo_endpoint"], token, claims), **claims}
    return claims, id_token


def _userinfo(cfg: OidcConfig, url: str, token: dict, claims: dict) -> dict[str, Any]:
    """The userinfo claims, which must name the ID token's subject (Core §5.3.2)."""
    try:
        response = requests.get(url, timeout=cfg.timeout, verify=cfg.ca_file or True,
                                headers={"Authorization": f"Bearer {token['access_token']}"})
        response.raise_for_status()
        info = response.json()
    except (requests.RequestException, ValueError) as exc:
        raise OidcError("provider", f"userinfo failed: {type(exc).__name__}") from None
    if not isinstance(info, dict) or info.get("sub") != claims.get("sub"):
        raise OidcError("id_token", "the userinfo answer names another subject")
    return info


@bp.route("/login/oidc/callback")
def callback() -> Any:
    """The provider sends the browser back here with a code (or an error)."""
    from dutydesk.web.auth import start_session

    cfg = settings().oidc
    if cfg is None:
        abort(404)
    s = db_session()
    try:
        flow = _flow()
        if flow.get("dry"):
            return _dry_run(cfg, flow)
        claims, id_token = _claims(cfg, provider_cache(), flow)
        person = person_from_claims(cfg, claims)
    except OidcError as exc:
        if exc.stage == "no_group" and exc.subject:
            known = s.scalar(select(User).where(User.oidc_subject == exc.subject))
            take_access_away(s, known, utcnow(), "is in no mapped group at the provider")
            s.commit()
        return _refuse(exc)
    if person.role is None:  # a requester: any account they had loses its access
        from dutydesk.web.requests_help import sign_in_requester

        known = s.scalar(select(User).where(User.oidc_subject == person.dn))
        take_access_away(s, known, utcnow(), "is in no mapped group at the provider")
        response = sign_in_requester(person, "OpenID Connect", flow["next"])
        session[ID_TOKEN_KEY] = id_token
        return response
    try:
        synced = upsert_user(s, f"oidc:{person.username[:80]}", person, utcnow(), via="oidc")
    except DirectoryError as exc:
        s.rollback()
        return _refuse(exc)
    if not synced.user.active:
        s.rollback()
        return _refuse(OidcError("disabled", f"{person.dn}: disabled in DutyDesk"))
    response = start_session(synced.user, flow["next"], how=" with OpenID Connect")
    session[ID_TOKEN_KEY] = id_token  # the hint of an RP-initiated logout
    return response


def _dry_run(cfg: OidcConfig, flow: dict[str, Any]) -> Any:
    """The admin's test sign-in: who the provider named and what they would get, or the stage
    that failed; nobody is signed in or changed."""
    from dutydesk.web.directory_admin import sso_page

    if principal().role is not Role.ADMIN:
        abort(403)
    try:
        claims, _token = _claims(cfg, provider_cache(), flow)
        groups = claims.get(cfg.groups_claim.split(".")[0], "")
        person = person_from_claims(cfg, claims)
        role = person.role.value if person.role else "requester (help desk only)"
        result = {"ok": True, "text": f"{claims.get('sub')} ({person.email}) signs in as "
                  f"{role}; {cfg.groups_claim}: {groups}"}
    except OidcError as exc:
        result = {"ok": False, "stage": exc.stage, "text": exc.detail}
    return sso_page(result)


@bp.route("/login/oidc/backchannel", methods=["POST"])
def backchannel_logout() -> Any:
    """OpenID Connect Back-Channel Logout: the provider says a person signed out there (or an
    admin ended their sessions); every DutyDesk session of theirs ends at once. 200 when the
    token is genuine (whether or not we know the person), 400 otherwise; never cached."""
    cfg = settings().oidc
    if cfg is None:
        abort(404)
    headers = {"Cache-Control": "no-store"}
    try:
        cache = provider_cache()
        sub = validate_logout_token(request.form.get("logout_token", ""), cfg=cfg,
                                    metadata=cache.provider_metadata(), keys=cache.keys,
                                    now=utcnow())
    except OidcError as exc:
        log.warning("OpenID Connect back-channel logout refused at %s: %s", exc.stage,
                    exc.detail)
        return {"error": "invalid_request", "error_description": exc.stage}, 400, headers
    s = db_session()
    user = s.scalar(select(User).where(User.oidc_subject == subject_key(cfg.issuer, sub)))
    if user is not None:
        user.session_version = (user.session_version or 1) + 1  # every session of theirs ends
        audit.record(s, f"oidc:{sub[:80]}", "logout", "user", user.id,
                     summary=f"{user.email} signed out at the provider (back-channel logout)")
        s.commit()
    return "", 200, headers


def end_session_url(id_token: str | None) -> str | None:
    """Where to send the browser after it signed out here, so the provider ends its session
    too (RP-initiated logout), or ``None`` when the provider offers none or cannot be asked."""
    if not id_token or settings().oidc is None:
        return None
    try:
        endpoint = provider_cache().provider_metadata().get("end_session_endpoint")
    except OidcError:
        return None
    if not isinstance(endpoint, str) or not endpoint.startswith(("https://", "http://")):
        return None
    query = urlencode({"id_token_hint": id_token, "client_id": settings().oidc.client_id,
                       "post_logout_redirect_uri": settings().base_url.rstrip("/") + "/login"})
    return f"{endpoint}{'&' if '?' in endpoint else '?'}{query}"


@bp.app_context_processor
def _oidc_helpers() -> dict[str, Any]:
    def label() -> str | None:
        cfg = settings().oidc
        return cfg.label if cfg is not None else None

    return {"oidc_label": label, "signed_in_with_oidc": lambda: principal().kind == "user"
            and ID_TOKEN_KEY in session}
