"""The directory's pure rules: which groups give which role, which user names may reach the
server, the AD nested-group filter, what an admin page may show."""

from __future__ import annotations

import pytest

from dutydesk.core.directory import (
    AD_IN_CHAIN,
    acceptable_username,
    ad_disabled,
    group_filter,
    language_code,
    parse_config,
    role_for_groups,
)
from dutydesk.models import Role

MAPPING = (
    ("cn=dc-duty", Role.ENGINEER),
    ("cn=dc-leads,ou=groups,dc=corp,dc=example", Role.SHIFT_LEAD),
    ("cn=dutydesk-admins", Role.ADMIN),
)


@pytest.mark.parametrize(
    ("groups", "role"),
    [
        (["cn=dc-duty,ou=groups,dc=corp,dc=example"], Role.ENGINEER),  # first part matches
        (["CN=DC-Duty, OU=Groups, DC=corp, DC=example"], Role.ENGINEER),  # AD spelling
        (["cn=dc-leads,ou=groups,dc=corp,dc=example"], Role.SHIFT_LEAD),  # full DN matches
        (["cn=dc-leads,ou=elsewhere,dc=corp,dc=example"], None),  # a full DN is exact
        (["cn=dc-duty,ou=g,dc=x", "cn=dc-leads,ou=groups,dc=corp,dc=example"], Role.SHIFT_LEAD),
        (["cn=dc-duty,ou=g,dc=x", "cn=dutydesk-admins,ou=g,dc=x"], Role.ADMIN),  # the most
        (["cn=canteen,ou=groups,dc=corp,dc=example"], None),  # no mapped group: no access
        ([], None),
        (["cn=dc-duty-old,ou=g,dc=x"], None),  # a prefix is not the group
    ],
)
def test_groups_map_to_the_most_powerful_role(groups: list[str], role: Role | None) -> None:
    assert role_for_groups(groups, MAPPING) == role


@pytest.mark.parametrize(
    ("username", "ok"),
    [
        ("ivan", True),
        ("ivan.petrenko@corp.example", True),
        ("o-kovalenko_2", True),
        ("*)(uid=*", False),  # filter injection
        ("ivan)(|(uid=*", False),
        ("admin,ou=services", False),  # DN injection
        ("ivan\\2a", False),
        ("", False),
        ("i" * 129, False),
        ("ivan petrenko", False),
    ],
)
def test_only_plain_user_names_reach_the_directory(username: str, ok: bool) -> None:
    assert acceptable_username(username) is ok


def test_active_directory_finds_nested_groups_with_the_in_chain_rule() -> None:
    assert group_filter("ad", "cn=ivan,ou=x") == f"(member:{AD_IN_CHAIN}:=cn=ivan,ou=x)"
    assert "(member=cn=ivan,ou=x)" in group_filter("openldap", "cn=ivan,ou=x")


def test_active_directory_disabled_flag_is_read_from_user_account_control() -> None:
    assert ad_disabled("514") and ad_disabled(2)
    assert not ad_disabled("512") and not ad_disabled(None) and not ad_disabled("junk")


def test_preferred_language_becomes_a_supported_code_or_nothing() -> None:
    supported = ("en", "ru", "uk")
    assert language_code("uk-UA", supported) == "uk"
    assert language_code("ru, en;q=0.8", supported) == "ru"
    assert language_code("de-DE", supported) is None
    assert language_code(None, supported) is None


def test_the_admin_view_of_the_config_never_holds_the_service_password() -> None:
    cfg = parse_config({
        "url": "ldaps://dc1.corp.example", "kind": "ad", "bind_dn": "cn=svc,dc=corp",
        "bind_password": "Sup3r-secret", "user_base": "dc=corp",
        "user_filter": "(sAMAccountName={username})", "group_base": "dc=corp",
        "groups": {"cn=dc-duty": "engineer"},
    })
    shown = repr(cfg.public()) + repr(cfg)
    assert "Sup3r-secret" not in shown and "(set)" in shown


def test_walking_nested_groups_asks_about_each_group_once_and_stops_at_cycles() -> None:
    from dutydesk.core.directory import walk_groups

    parents = {"cn=a": ["cn=b"], "cn=b": ["cn=c", "CN=A"], "cn=c": ["cn=b"]}  # a ⊂ b ⊂ c ⊂ b
    asked: list[list[str]] = []

    def parents_of(groups: list[str]) -> list[str]:
        asked.append(groups)
        return [p for g in groups for p in parents.get(g.lower(), [])]

    assert walk_groups(["cn=a"], parents_of) == ["cn=a", "cn=b", "cn=c"]
    assert asked == [["cn=a"], ["cn=b"], ["cn=c"]]


def test_walking_nested_groups_stops_at_the_depth_limit() -> None:
    from dutydesk.core.directory import walk_groups

    def chain(groups: list[str]) -> list[str]:  # g0 ⊂ g1 ⊂ g2 ⊂ … without end
        return [f"cn=g{int(g[4:]) + 1}" for g in groups]

    assert walk_groups(["cn=g0"], chain, max_depth=3) == ["cn=g0", "cn=g1", "cn=g2", "cn=g3"]
