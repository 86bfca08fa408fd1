"""Sign-in with an OpenID Connect provider (Keycloak, Entra ID, Google Workspace, Authentik…):
its configuration and the pure decisions — is an ID token genuine and meant for us, who does it
name, which role do their groups give.

The HTTP (discovery document, JWKS, token and userinfo endpoints, via ``authlib``) lives in
:mod:`dutydesk.web.auth_oidc`; nothing here touches the network, so the rules are tested with
tokens signed by keys the tests make. Signatures are checked with ``joserfc`` and the claims
with ``authlib``'s ID-token rules (OpenID Connect Core §3.1.3.7).

The ``oidc:`` section of the config file::

    oidc:
      issuer: https://sso.corp.example/realms/corp   # + /.well-known/openid-configuration
      client_id: dutydesk
      client_secret: "…"
      scopes: [openid, email, profile, groups]
      groups_claim: groups             # a list of group names (Keycloak, Authentik) or ids (Entra)
      groups:                          # group -> role, the same rules as the directory's
        dc-duty: engineer
        dc-leads: shift_lead
      claims: {name: name, email: email, phone: phone_number, language: locale}
      requesters: all                  # or [staff]: people in no mapped group who may sign in
                                       # to the help desk to see "my requests"
      trust_email: false               # true: requesters without email_verified (Entra ID)
      label: Corp SSO                  # the sign-in button says "Sign in with Corp SSO"
      clock_skew: 60                   # seconds of clock difference tolerated (0-300)
      timeout: 5
      ca_file: /etc/ssl/certs/corp-ca.pem   # only for a provider behind a private CA
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urlparse

from authlib.oidc.core import CodeIDToken
from joserfc import jwt
from joserfc.errors import InvalidKeyIdError, JoseError
from joserfc.jwk import KeySet
from joserfc.jws import JWSRegistry

from dutydesk.core.config import SUPPORTED_LANGUAGES
from dutydesk.core.directory import (
    Person,
    language_code,
    may_request,
    parse_group_roles,
    parse_name_map,
    parse_requesters,
    parse_timeout,
    role_for_groups,
)
from dutydesk.core.models.accounts import Role

MAX_CLOCK_SKEW = 300
# Asymmetric algorithms only: "none" and HMAC (signed with the client secret) are refused.
SIGNING_ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384",
                      "ES512", "EdDSA")
_DEFAULT_CLAIMS = {"name": "name", "email": "email", "phone": "phone_number",
                   "language": "locale"}
_LOOPBACK = ("127.0.0.1", "::1", "localhost")


@dataclass(frozen=True)
class OidcConfig:
    """The validated ``oidc:`` section. ``client_secret`` is never shown or logged."""

    issuer: str
    client_id: str
    client_secret: str = field(default="", repr=False)
    scopes: tuple[str, ...] = ("openid", "email", "profile")
    groups_claim: str = "groups"
    groups: tuple[tuple[str, Role], ...] = ()
    claims: Mapping[str, str] = field(default_factory=lambda: dict(_DEFAULT_CLAIMS))
    label: str = "single sign-on"
    clock_skew: int = 60
    timeout: float = 5.0
    ca_file: str = ""
    requesters: tuple[str, ...] = ()
    trust_email: bool = False

    @property
    def discovery_url(self) -> str:
        return self.issuer.rstrip("/") + "/.well-known/openid-configuration"

    @property
    def origin(self) -> str:
        url = urlparse(self.issuer)
        return f"{url.scheme}://{url.netloc}"

    def public(self) -> dict[str, Any]:
        """What an admin page may show: everything but the client secret."""
        return {
            "issuer": self.issuer, "client_id": self.client_id,
            "client_secret": "(set)" if self.client_secret else "(none: public client, PKCE)",
            "scopes": " ".join(self.scopes), "groups_claim": self.groups_claim,
            "groups": [(g, r.value) for g, r in self.groups], "claims": dict(self.claims),
            "label": self.label, "clock_skew": self.clock_skew, "timeout": self.timeout,
            "ca_file": self.ca_file, "requesters": ", ".join(self.requesters) or "(none)",
            "trust_email": self.trust_email,
        }


def parse_config(raw: Any, where: str = "oidc") -> OidcConfig:
    """Validate the ``oidc:`` section; raises ``ValueError`` listing every problem, one a line."""
    if not isinstance(raw, Mapping):
        raise ValueError(f"{where}: expected a mapping of OpenID Connect settings, "
                         f"got {type(raw).__name__}")
    known = {"issuer", "client_id", "client_secret", "scopes", "groups_claim", "groups", "claims",
             "label", "clock_skew", "timeout", "ca_file", "requesters", "trust_email"}
    problems = [f"{where}.{k}: unknown setting; known: {', '.join(sorted(known))}"
                for k in raw if k not in known]
    issuer = str(raw.get("issuer", "")).strip().rstrip("/")
    url = urlparse(issuer)
    if not url.hostname or url.query or url.fragment or url.scheme not in ("https", "http") or (
            url.scheme == "http" and url.hostname not in _LOOPBACK):
        problems.append(f"{where}.issuer: expected the provider's https:// issuer URL (http:// "
                        f"only on this machine's loopback), got {issuer!r}")
    client_id = str(raw.get("client_id", "")).strip()
    if not client_id:
        problems.append(f"{where}.client_id: required (the client registered at the provider)")
    raw_scopes = raw.get("scopes", ["openid", "email", "profile"])
    scopes = tuple(raw_scopes.split() if isinstance(raw_scopes, str) else map(str, raw_scopes))
    if "openid" not in scopes:
        problems.append(f"{where}.scopes: must include 'openid', got {' '.join(scopes)!r}")
    groups = parse_group_roles(raw.get("groups"), f"{where}.groups", "dc-duty", problems)
    claims = parse_name_map(raw.get("claims", {}), _DEFAULT_CLAIMS, f"{where}.claims",
                            "{email: email}", problems)
    skew = raw.get("clock_skew", 60)
    if not isinstance(skew, int) or isinstance(skew, bool) or not 0 <= skew <= MAX_CLOCK_SKEW:
        problems.append(f"{where}.clock_skew: whole seconds between 0 and {MAX_CLOCK_SKEW}, "
                        f"got {skew!r}")
        skew = 60
    timeout = parse_timeout(raw, where, problems)
    requesters = parse_requesters(raw.get("requesters"), f"{where}.requesters", problems)
    trust_email = raw.get("trust_email", False)
    if not isinstance(trust_email, bool):
        problems.append(f"{where}.trust_email: expected true or false, got {trust_email!r}")
    if problems:
        raise ValueError("\n".join(problems))
    return OidcConfig(
        issuer=issuer, client_id=client_id, client_secret=str(raw.get("client_secret", "")),
        scopes=scopes, groups_claim=str(raw.get("groups_claim", "groups")), groups=tuple(groups),
        claims=claims, label=str(raw.get("label", "single sign-on"))[:60], clock_skew=skew,
        timeout=timeout, ca_file=str(raw.get("ca_file", "")), requesters=requesters,
        trust_email=bool(trust_email),
    )


class OidcError(Exception):
    """Why an OpenID Connect sign-in failed. ``stage`` is machine-readable (``provider``,
    ``state``, ``denied``, ``token``, ``id_token``, ``claims``, ``no_group``, ``conflict``,
    ``disabled``); ``detail`` is for admins and logs, never shown to the person signing in."""

    def __init__(self, stage: str, detail: str, subject: str | None = None) -> None:
        super().__init__(f"{stage}: {detail}")
        self.stage = stage
        self.detail = detail
        self.subject = subject  # the account key, when the refusal is about who they are


def check_metadata(metadata: Any, issuer: str) -> dict[str, Any]:
    """The discovery document, checked: its ``issuer`` must be exactly the configured one
    (OpenID Connect Discovery §4.3) and the endpoints of the code flow must be there."""
    if not isinstance(metadata, Mapping):
        raise OidcError("provider", "the discovery document is not a JSON object")
    if metadata.get("issuer") != issuer:
        raise OidcError("provider", f"the discovery document names the issuer "
                        f"{metadata.get('issuer')!r}, not the configured {issuer!r}")
    missing = [k for k in ("authorization_endpoint", "token_endpoint", "jwks_uri")
               if not isinstance(metadata.get(k), str)]
    if missing:
        raise OidcError("provider", f"the discovery document lacks {', '.join(missing)}")
    methods = metadata.get("code_challenge_methods_supported")
    if isinstance(methods, list) and "S256" not in methods:
        raise OidcError("provider", "the provider does not offer PKCE with S256")
    return dict(metadata)


def signing_algorithms(metadata: Mapping[str, Any]) -> list[str]:
    """The asymmetric algorithms both we and the provider accept for ID tokens."""
    offered = metadata.get("id_token_signing_alg_values_supported") or ["RS256"]
    return [a for a in SIGNING_ALGORITHMS if a in offered] or ["RS256"]


def validate_id_token(
    id_token: str, *, cfg: OidcConfig, metadata: Mapping[str, Any],
    keys: Callable[[bool], Mapping[str, Any]], nonce: str, now: datetime,
    access_token: str | None = None,
) -> dict[str, Any]:
    """The claims of a genuine ID token meant for us, or :class:`OidcError` (``id_token``).

    Checked: the signature with the provider's JWKS (``keys(False)``; an unknown key id makes
    one fresh fetch, ``keys(True)`` — the provider rotated its keys), an asymmetric algorithm,
    ``iss`` = the configured issuer, ``aud`` contains our client id (and ``azp`` is us when
    present), ``exp``/``iat``/``nbf`` against ``now`` give or take ``clock_skew`` seconds, the
    ``nonce`` we sent, and ``at_hash`` when there is an access token.
    """
    registry = JWSRegistry(algorithms=signing_algorithms(metadata))
    try:
        try:
            token = jwt.decode(id_token, KeySet.import_key_set(dict(keys(False))),
                               registry=registry)
        except InvalidKeyIdError:
            token = jwt.decode(id_token, KeySet.import_key_set(dict(keys(True))),
                               registry=registry)
    except (JoseError, ValueError, TypeError, KeyError) as exc:
        raise OidcError("id_token", f"the ID token's signature cannot be verified with the "
                        f"provider's keys: {type(exc).__name__}: {exc}") from None
    options = {"iss": {"essential": True, "value": cfg.issuer},
               "aud": {"essential": True, "value": cfg.client_id}}
    params = {"nonce": nonce, "client_id": cfg.client_id}
    if access_token:
        params["access_token"] = access_token
    claims = CodeIDToken(token.claims, token.header, options, params)
    try:
        claims.validate(now=int(now.timestamp()), leeway=cfg.clock_skew)
    except (JoseError, ValueError, TypeError) as exc:
        raise OidcError("id_token", f"the ID token is refused: {type(exc).__name__}: "
                        f"{getattr(exc, 'description', '') or exc}") from None
    if not nonce or claims.get("nonce") != nonce:
        raise OidcError("id_token", "the ID token does not carry the nonce we sent")
    return dict(claims)


BACKCHANNEL_EVENT = "http://schemas.openid.net/event/backchannel-logout"


def validate_logout_token(
    logout_token: str, *, cfg: OidcConfig, metadata: Mapping[str, Any],
    keys: Callable[[bool], Mapping[str, Any]], now: datetime,
) -> str:
    """The subject a genuine back-channel logout token (OpenID Connect Back-Channel Logout 1.0
    §2.6) names, or :class:`OidcError` (``logout_token``): signed by the provider's keys,
    ``iss``/``aud`` ours, ``iat`` (and ``exp`` if present) within the clock skew, the
    back-channel logout event, a ``sub``, and no ``nonce`` (so an ID token is not one)."""
    registry = JWSRegistry(algorithms=signing_algorithms(metadata))
    try:
        try:
            token = jwt.decode(logout_token, KeySet.import_key_set(dict(keys(False))),
                               registry=registry)
        except InvalidKeyIdError:
            token = jwt.decode(logout_token, KeySet.import_key_set(dict(keys(True))),
                               registry=registry)
        claims = token.claims
        registry_claims = jwt.JWTClaimsRegistry(
            now=int(now.timestamp()), leeway=cfg.clock_skew,
            iss={"essential": True, "value": cfg.issuer},
            aud={"essential": True, "value": cfg.client_id}, iat={"essential": True})
        registry_claims.validate(claims)
    except (JoseError, ValueError, TypeError, KeyError) as exc:
        raise OidcError("logout_token", f"the logout token is refused: {type(exc).__name__}: "
                        f"{getattr(exc, 'description', '') or exc}") from None
    events = claims.get("events")
    if not isinstance(events, Mapping) or BACKCHANNEL_EVENT not in events:
        raise OidcError("logout_token", "the logout token carries no back-channel logout event")
    if "nonce" in claims:
        raise OidcError("logout_token", "a logout token never carries a nonce (an ID token?)")
    sub = _text(claims, "sub")
    if sub is None:
        raise OidcError("logout_token", "the logout token names no subject (sid alone is not "
                        "supported: turn off backchannel_logout_session_required)")
    return sub


def subject_key(issuer: str, sub: str) -> str:
    """The stable key of an OpenID Connect account: issuer and subject (emails change)."""
    return f"{issuer} {sub}"[:500]


def _text(claims: Mapping[str, Any], name: str) -> str | None:
    value = claims.get(name)
    return str(value).strip() if isinstance(value, (str, int)) and str(value).strip() else None


def group_names(claims: Mapping[str, Any], claim: str) -> list[str]:
    """The groups in ``claim``: a list of names, or one name; a dotted claim
    (``realm_access.roles``) reaches into nested objects, as Keycloak puts its roles."""
    value: Any = claims
    for part in claim.split("."):
        value = value.get(part) if isinstance(value, Mapping) else None
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [str(v) for v in value if isinstance(v, (str, int))]
    return []


def person_from_claims(cfg: OidcConfig, claims: Mapping[str, Any]) -> Person:
    """Who the (validated) claims name and which role their groups give (``None``: a requester,
    in no mapped group but allowed to the help desk); :class:`OidcError` (``no_group`` or
    ``claims``) when they may not sign in."""
    sub = _text(claims, "sub")
    if sub is None:
        raise OidcError("claims", "the ID token has no subject")
    key = subject_key(cfg.issuer, sub)
    groups = group_names(claims, cfg.groups_claim)
    role = role_for_groups(groups, cfg.groups)
    if role is None and not may_request(groups, cfg.requesters):
        raise OidcError("no_group", f"{sub} is in none of the mapped groups "
                        f"({', '.join(g for g, _ in cfg.groups)}); {cfg.groups_claim}: "
                        f"{', '.join(groups) or 'none'}", subject=key)
    email = _text(claims, cfg.claims["email"])
    if not email or "@" not in email:
        raise OidcError("claims", f"{sub} has no {cfg.claims['email']!r} claim (the email "
                        "DutyDesk needs; ask for the 'email' scope)")
    if claims.get("email_verified") is False:
        raise OidcError("claims", f"{sub}: the provider says the email {email} is not verified")
    if role is None and claims.get("email_verified") is not True and not cfg.trust_email:
        # a requester's only key is their address: it opens the requests sent from it
        raise OidcError("claims", f"{sub}: the provider does not say the email {email} is "
                        "verified, and a requester is known by their email (set trust_email: "
                        "true if this provider's emails can be trusted)")
    return Person(
        dn=key, username=sub, email=email.lower(),
        name=_text(claims, cfg.claims["name"]) or email,
        phone=(_text(claims, cfg.claims["phone"]) or "")[:40] or None,
        language=language_code(_text(claims, cfg.claims["language"]), SUPPORTED_LANGUAGES),
        role=role,
    )
