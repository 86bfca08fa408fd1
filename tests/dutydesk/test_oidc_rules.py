"""The OpenID Connect rules without a provider: which ID tokens are genuine and meant for us
(tokens signed here with keys the tests make), who the claims name, and which role their groups
give — the same mapping rule as the directory's."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from joserfc import jwt
from joserfc.jwk import KeySet, OctKey, RSAKey

from dutydesk.core.directory import may_request, parse_requesters, role_for_groups
from dutydesk.core.oidc import (
    OidcConfig,
    OidcError,
    check_metadata,
    group_names,
    parse_config,
    person_from_claims,
    validate_id_token,
    validate_logout_token,
)
from dutydesk.models import Role

ISSUER = "https://sso.corp.example/realms/corp"
NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
T = int(NOW.timestamp())
KEY = RSAKey.generate_key(2048, parameters={"kid": "k1"})
NEW_KEY = RSAKey.generate_key(2048, parameters={"kid": "k2"})
STRANGER = RSAKey.generate_key(2048, parameters={"kid": "k1"})  # same kid, not the provider's
CFG: OidcConfig = parse_config({
    "issuer": ISSUER, "client_id": "dutydesk", "client_secret": "client-secret-123",
    "groups": {"dc-duty": "engineer", "dc-leads": "shift_lead"}, "clock_skew": 60,
})
METADATA = {"issuer": ISSUER, "authorization_endpoint": f"{ISSUER}/auth",
            "token_endpoint": f"{ISSUER}/token", "jwks_uri": f"{ISSUER}/jwks",
            "id_token_signing_alg_values_supported": ["RS256", "none", "HS256"]}


def claims(**change: Any) -> dict[str, Any]:
    base = {"iss": ISSUER, "sub": "u-1", "aud": "dutydesk", "exp": T + 300, "iat": T - 5,
            "nonce": "n-1", "email": "Ivan@Corp.example", "name": "Ivan", "groups": ["dc-duty"]}
    base.update(change)
    return {k: v for k, v in base.items() if v is not None}


def signed(payload: dict[str, Any], key: Any = KEY, alg: str = "RS256") -> str:
    header = {"alg": alg, **({"kid": key.kid} if key.kid else {})}
    return jwt.encode(header, payload, key, algorithms=[alg])


def unsigned(payload: dict[str, Any]) -> str:
    def part(data: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'none'})}.{part(payload)}."


def jwks(*keys: Any) -> dict[str, Any]:
    return KeySet(list(keys)).as_dict(private=False)


def provider_keys(first: dict[str, Any], fresh: dict[str, Any] | None = None
                  ) -> tuple[Callable[[bool], dict[str, Any]], list[bool]]:
    """The provider's key set as the cache hands it: ``first`` until a fresh fetch is asked."""
    asked: list[bool] = []

    def keys(refresh: bool) -> dict[str, Any]:
        asked.append(refresh)
        return fresh if refresh and fresh is not None else first

    return keys, asked


def check(token: str, keys: Callable[[bool], dict[str, Any]] | None = None,
          nonce: str = "n-1") -> dict[str, Any]:
    return validate_id_token(token, cfg=CFG, metadata=METADATA,
                             keys=keys or provider_keys(jwks(KEY))[0], nonce=nonce, now=NOW)


def test_a_genuine_token_gives_its_claims() -> None:
    assert check(signed(claims()))["sub"] == "u-1"


@pytest.mark.parametrize(
    ("token", "why"),
    [
        # meant for another client of the same provider
        (signed(claims(aud="grafana")), "aud"),
        # several audiences, we are one, but another party is the authorized one
        (signed(claims(aud=["dutydesk", "grafana"], azp="grafana")), "azp"),
        # from another issuer
        (signed(claims(iss="https://evil.example")), "iss"),
        # expired longer ago than the clock skew allows
        (signed(claims(exp=T - 61)), "exp"),
        # issued in the future beyond the skew (a clock far off, or a forged token)
        (signed(claims(iat=T + 120)), "future"),
        # the nonce of another sign-in (a replayed token)
        (signed(claims(nonce="n-other")), "nonce"),
        # no nonce at all
        (signed(claims(nonce=None)), "nonce"),
        # signed with a key the provider never published (same key id)
        (signed(claims(), key=STRANGER), "signature"),
        # unsigned
        (unsigned(claims()), "signature"),
        # HMAC with the client secret: a client could forge it
        (signed(claims(), key=OctKey.import_key("client-secret-123"), alg="HS256"),
         "signature"),
        # not a token at all
        ("not.a.token", "signature"),
    ],
)
def test_tokens_that_are_not_genuine_or_not_for_us_are_refused(token: str, why: str) -> None:
    with pytest.raises(OidcError) as refused:
        check(token)
    assert refused.value.stage == "id_token"
    assert why in refused.value.detail.lower()


def test_a_clock_a_little_off_is_tolerated_up_to_the_configured_skew() -> None:
    assert check(signed(claims(exp=T - 59, iat=T - 400)))["sub"] == "u-1"
    assert check(signed(claims(iat=T + 59)))["sub"] == "u-1"


def test_a_key_rotated_at_the_provider_is_fetched_again_once() -> None:
    keys, asked = provider_keys(jwks(KEY), fresh=jwks(KEY, NEW_KEY))
    assert check(signed(claims(), key=NEW_KEY), keys)["sub"] == "u-1"
    assert asked == [False, True]


def test_an_unknown_key_still_unknown_after_a_fresh_fetch_is_refused() -> None:
    keys, asked = provider_keys(jwks(KEY))
    with pytest.raises(OidcError):
        check(signed(claims(), key=NEW_KEY), keys)
    assert asked == [False, True]


def test_the_discovery_document_must_name_the_configured_issuer() -> None:
    assert check_metadata(METADATA, ISSUER)["jwks_uri"].endswith("/jwks")
    with pytest.raises(OidcError, match="not the configured"):
        check_metadata({**METADATA, "issuer": "https://evil.example"}, ISSUER)
    with pytest.raises(OidcError, match="PKCE"):
        check_metadata({**METADATA, "code_challenge_methods_supported": ["plain"]}, ISSUER)
    with pytest.raises(OidcError, match="lacks token_endpoint"):
        check_metadata({k: v for k, v in METADATA.items() if k != "token_endpoint"}, ISSUER)


# One mapping rule for the directory and OpenID Connect (one comment per case).
@pytest.mark.parametrize(
    ("groups", "role"),
    [
        (["dc-duty"], Role.ENGINEER),                                # a plain group name
        (["DC-Leads "], Role.SHIFT_LEAD),                            # case and spaces do not matter
        (["dc-duty", "dc-leads"], Role.SHIFT_LEAD),                  # the most powerful wins
        (["cn=dc-duty,ou=groups,dc=corp,dc=example"], Role.ENGINEER),  # a DN: its first part
        (["staff", "/dc-duty"], None),                               # a path is not the name
        ([], None),                                                  # no groups, no access
    ],
)
def test_groups_map_to_roles_by_the_directorys_rule(groups: list[str], role: Role | None) -> None:
    assert role_for_groups(groups, CFG.groups) is role


def test_the_person_named_by_the_claims() -> None:
    person = person_from_claims(CFG, claims(locale="ru-RU", phone_number="+380 44 1"))
    assert person.email == "ivan@corp.example" and person.role is Role.ENGINEER
    assert person.dn == f"{ISSUER} u-1" and person.language == "ru"
    assert person.phone == "+380 44 1"


@pytest.mark.parametrize(
    ("change", "stage"),
    [
        ({"groups": ["staff"]}, "no_group"),         # in no mapped group
        ({"groups": None}, "no_group"),              # no groups claim at all
        ({"email": None}, "claims"),                 # no email to make the account with
        ({"email_verified": False}, "claims"),       # an address the provider did not verify
    ],
)
def test_people_the_claims_do_not_let_in(change: dict[str, Any], stage: str) -> None:
    with pytest.raises(OidcError) as refused:
        person_from_claims(CFG, claims(**change))
    assert refused.value.stage == stage


def test_a_dotted_groups_claim_reaches_into_nested_objects() -> None:
    token = {"realm_access": {"roles": ["dc-leads", "offline_access"]}}
    assert group_names(token, "realm_access.roles") == ["dc-leads", "offline_access"]
    assert group_names({"groups": "dc-duty"}, "groups") == ["dc-duty"]
    assert group_names({"groups": {"odd": 1}}, "groups") == []


@pytest.mark.parametrize(
    ("setting", "groups", "allowed"),
    [
        ("all", [], True),                                          # everyone the provider signs in
        (["staff"], ["Staff"], True),                               # a listed group
        (["staff"], ["cn=staff,ou=groups,dc=corp,dc=example"], True),  # its DN, by the same rule
        (["staff"], ["contractors"], False),                        # another group
        (None, ["staff"], False),                                   # not configured: nobody
    ],
)
def test_who_may_sign_in_as_a_requester(setting: Any, groups: list[str], allowed: bool) -> None:
    problems: list[str] = []
    assert may_request(groups, parse_requesters(setting, "requesters", problems)) is allowed
    assert problems == []


def test_a_requesters_setting_that_is_not_a_list_is_refused() -> None:
    problems: list[str] = []
    parse_requesters({"staff": 1}, "oidc.requesters", problems)
    assert problems == ["oidc.requesters: expected 'all' or a list of groups, got {'staff': 1}"]


def test_a_requester_is_a_person_without_a_role_known_by_a_verified_email() -> None:
    raw = {"issuer": ISSUER, "client_id": "dutydesk", "groups": {"dc-duty": "engineer"},
           "requesters": ["staff"]}
    cfg = parse_config(raw)
    assert person_from_claims(cfg, claims(groups=["staff"], email_verified=True)).role is None
    # the address opens the requests sent from it: not taken on the provider's silence...
    with pytest.raises(OidcError, match="trust_email"):
        person_from_claims(cfg, claims(groups=["staff"]))
    # ...unless the admin trusts this provider's emails (Entra ID sends no email_verified)
    trusting = parse_config({**raw, "trust_email": True})
    assert person_from_claims(trusting, claims(groups=["staff"])).role is None
    # staff with a role are matched by subject, not email: no verification asked
    assert person_from_claims(cfg, claims()).role is Role.ENGINEER


EVENT = {"http://schemas.openid.net/event/backchannel-logout": {}}


def logout_claims(**change: Any) -> dict[str, Any]:
    base = {"iss": ISSUER, "aud": "dutydesk", "iat": T - 5, "jti": "j-1", "sub": "u-1",
            "events": EVENT}
    base.update(change)
    return {k: v for k, v in base.items() if v is not None}


def check_logout(token: str) -> str:
    return validate_logout_token(token, cfg=CFG, metadata=METADATA,
                                 keys=provider_keys(jwks(KEY))[0], now=NOW)


def test_a_genuine_logout_token_names_its_subject() -> None:
    assert check_logout(signed(logout_claims())) == "u-1"


@pytest.mark.parametrize(
    "token",
    [
        signed(claims()),                                   # an ID token is not a logout token
        signed(logout_claims(events=None)),                 # no back-channel logout event
        signed(logout_claims(aud="grafana")),               # meant for another client
        signed(logout_claims(iat=T + 600)),                 # issued in the future
        signed(logout_claims(sub=None, sid="s-1")),         # sid alone: not supported
        signed(logout_claims(), key=STRANGER),              # not the provider's key
        "junk",                                             # not a token
    ],
)
def test_logout_tokens_that_are_not_genuine_are_refused(token: str) -> None:
    with pytest.raises(OidcError) as refused:
        check_logout(token)
    assert refused.value.stage == "logout_token"
