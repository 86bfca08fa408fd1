"""Sign-in with the company directory (LDAP / Active Directory): its configuration and the pure
decisions — which user names are acceptable, the DN or filter to look a person up with, which
role their groups give, what their entry says about them.

The I/O (``ldap3``) lives in :mod:`dutydesk.web.auth_ldap`; this module imports no network code
so the rules are tested with tables of cases.

The ``ldap:`` section of the config file::

    ldap:
      url: ldaps://dc1.corp.example        # or ldap://… with starttls: true
      starttls: false
      ca_file: /etc/ssl/certs/corp-ca.pem  # the CA that signed the server's certificate
      kind: openldap                       # or "ad" (nested groups via LDAP_MATCHING_RULE_IN_CHAIN)
      user_dn_template: "uid={username},ou=people,dc=corp,dc=example"   # direct bind, or:
      bind_dn: "cn=dutydesk,ou=services,dc=corp,dc=example"            # search, then bind
      bind_password: "…"
      user_base: "ou=people,dc=corp,dc=example"
      user_filter: "(uid={username})"
      group_base: "ou=groups,dc=corp,dc=example"
      group_lookup: search                 # or "memberof" (the user's memberOf attribute)
      nested_groups: true                  # walk groups inside groups (OpenLDAP, FreeIPA, 389 DS;
                                           # AD does it itself with kind: ad)
      groups:                              # group (full DN, or its first part) -> role
        cn=dc-duty: engineer
        cn=dc-leads: shift_lead
      requesters: all                      # or [cn=staff]: people in no mapped group who may
                                           # sign in to the help desk to see "my requests"
      attributes: {name: cn, email: mail, phone: telephoneNumber, language: preferredLanguage}
      timeout: 5
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlparse

from dutydesk.core.models.accounts import Role

# LDAP_MATCHING_RULE_IN_CHAIN: AD walks nested groups itself.
AD_IN_CHAIN = "1.2.840.113556.1.4.1941"
AD_ACCOUNT_DISABLED = 0x2  # userAccountControl bit ACCOUNTDISABLE
_USERNAME = re.compile(r"^[A-Za-z0-9._@+-]{1,128}$")
_DEFAULT_ATTRIBUTES = {
    "name": "cn",
    "email": "mail",
    "phone": "telephoneNumber",
    "language": "preferredLanguage",
}


@dataclass(frozen=True)
class DirectoryConfig:
    """The validated ``ldap:`` section. ``bind_password`` is never shown or logged."""

    url: str
    kind: str = "openldap"
    starttls: bool = False
    ca_file: str = ""
    user_dn_template: str = ""
    bind_dn: str = ""
    bind_password: str = field(default="", repr=False)
    user_base: str = ""
    user_filter: str = "(uid={username})"
    group_base: str = ""
    group_lookup: str = "search"
    groups: tuple[tuple[str, Role], ...] = ()
    attributes: Mapping[str, str] = field(default_factory=lambda: dict(_DEFAULT_ATTRIBUTES))
    timeout: float = 5.0
    requesters: tuple[str, ...] = ()
    nested_groups: bool = False

    @property
    def uses_tls(self) -> bool:
        return self.url.startswith("ldaps://") or self.starttls

    @property
    def direct_bind(self) -> bool:
        return bool(self.user_dn_template)

    def public(self) -> dict[str, Any]:
        """What an admin page may show: everything but the service account's password."""
        return {
            "url": self.url,
            "kind": self.kind,
            "starttls": self.starttls,
            "ca_file": self.ca_file,
            "mode": "direct bind" if self.direct_bind else "search, then bind",
            "user_dn_template": self.user_dn_template,
            "bind_dn": self.bind_dn,
            "bind_password": "(set)" if self.bind_password else "(none)",
            "user_base": self.user_base,
            "user_filter": self.user_filter,
            "group_base": self.group_base,
            "group_lookup": self.group_lookup,
            "groups": [(g, r.value) for g, r in self.groups],
            "attributes": dict(self.attributes),
            "timeout": self.timeout,
            "requesters": ", ".join(self.requesters) or "(none)",
            "nested_groups": "in chain (AD)" if self.kind == "ad" else self.nested_groups,
        }



def parse_group_roles(raw_groups: Any, where: str, example: str,
                      problems: list[str]) -> list[tuple[str, Role]]:
    """A configuration's ``groups: {group: role}`` as (normalised group, role) pairs; each
    unusable entry is added to ``problems`` (shared by the LDAP and OpenID Connect settings)."""
    groups: list[tuple[str, Role]] = []
    if not isinstance(raw_groups, Mapping) or not raw_groups:
        problems.append(f"{where}: map at least one group to a role (e.g. {example}: engineer)")
        return groups
    for group, role in raw_groups.items():
        try:
            groups.append((normalise_group(str(group)), Role.parse(str(role))))
        except ValueError as exc:
            problems.append(f"{where}.{group}: {exc}")
    return groups


def parse_name_map(raw_map: Any, defaults: Mapping[str, str], where: str, example: str,
                   problems: list[str]) -> dict[str, str]:
    """``defaults`` overridden by a configuration's ``{known key: name}`` mapping (the
    directory's attributes, the provider's claims); unknown keys are added to ``problems``."""
    names = dict(defaults)
    if not isinstance(raw_map, Mapping):
        problems.append(f"{where}: expected a mapping such as {example}")
        return names
    for key, value in raw_map.items():
        if key not in defaults:
            problems.append(f"{where}.{key}: unknown; known: " + ", ".join(defaults))
        else:
            names[key] = str(value)
    return names


def parse_timeout(raw: Mapping[str, Any], where: str, problems: list[str]) -> float:
    """A section's ``timeout``: seconds between 0.5 and 60 (default 5); anything else is
    added to ``problems`` and 5 is used."""
    try:
        timeout = float(raw.get("timeout", 5))
        if not 0.5 <= timeout <= 60:
            raise ValueError
    except (TypeError, ValueError):
        problems.append(f"{where}.timeout: seconds between 0.5 and 60, got {raw.get('timeout')!r}")
        timeout = 5.0
    return timeout

def parse_config(raw: Any, where: str = "ldap") -> DirectoryConfig:
    """Validate the ``ldap:`` section; raises ``ValueError`` listing every problem, one a line."""
    if not isinstance(raw, Mapping):
        raise ValueError(f"{where}: expected a mapping of LDAP settings, got {type(raw).__name__}")
    known = {
        "url", "kind", "starttls", "ca_file", "user_dn_template", "bind_dn", "bind_password",
        "user_base", "user_filter", "group_base", "group_lookup", "groups", "attributes",
        "timeout", "requesters", "nested_groups",
    }
    problems = [f"{where}.{k}: unknown setting; known: {', '.join(sorted(known))}"
                for k in raw if k not in known]
    url = str(raw.get("url", "")).strip()
    parsed = urlparse(url)
    if parsed.scheme not in ("ldap", "ldaps") or not parsed.hostname:
        problems.append(f"{where}.url: expected ldap://host[:port] or ldaps://host[:port], "
                        f"got {url!r}")
    kind = str(raw.get("kind", "openldap"))
    if kind not in ("openldap", "ad"):
        problems.append(f"{where}.kind: expected 'openldap' or 'ad', got {kind!r}")
    starttls = raw.get("starttls", False)
    if not isinstance(starttls, bool):
        problems.append(f"{where}.starttls: expected true or false, got {starttls!r}")
    if starttls and url.startswith("ldaps://"):
        problems.append(f"{where}.starttls: ldaps:// is already TLS; use ldap:// with starttls")
    template = str(raw.get("user_dn_template", ""))
    bind_dn = str(raw.get("bind_dn", ""))
    if template and "{username}" not in template:
        problems.append(f"{where}.user_dn_template: must contain {{username}}, got {template!r}")
    if not template and not raw.get("user_base"):
        problems.append(f"{where}: set user_dn_template (direct bind) or user_base with "
                        "bind_dn/bind_password (search, then bind)")
    user_filter = str(raw.get("user_filter", "(uid={username})"))
    if "{username}" not in user_filter or not user_filter.startswith("("):
        problems.append(f"{where}.user_filter: must be an LDAP filter containing {{username}}, "
                        f"got {user_filter!r}")
    lookup = str(raw.get("group_lookup", "search"))
    if lookup not in ("search", "memberof"):
        problems.append(f"{where}.group_lookup: expected 'search' or 'memberof', got {lookup!r}")
    if lookup == "search" and not raw.get("group_base"):
        problems.append(f"{where}.group_base: required to search for groups")
    groups = parse_group_roles(raw.get("groups"), f"{where}.groups", "cn=dc-duty", problems)
    attributes = parse_name_map(raw.get("attributes", {}), _DEFAULT_ATTRIBUTES,
                                f"{where}.attributes", "{email: mail}", problems)
    timeout = parse_timeout(raw, where, problems)
    ca_file = str(raw.get("ca_file", ""))
    requesters = parse_requesters(raw.get("requesters"), f"{where}.requesters", problems)
    nested = raw.get("nested_groups", False)
    if not isinstance(nested, bool):
        problems.append(f"{where}.nested_groups: expected true or false, got {nested!r}")
    elif nested and not raw.get("group_base"):
        problems.append(f"{where}.group_base: required to walk nested groups")
    if problems:
        raise ValueError("\n".join(problems))
    return DirectoryConfig(
        url=url, kind=kind, starttls=bool(starttls), ca_file=ca_file, user_dn_template=template,
        bind_dn=bind_dn, bind_password=str(raw.get("bind_password", "")),
        user_base=str(raw.get("user_base", "")), user_filter=user_filter,
        group_base=str(raw.get("group_base", "")), group_lookup=lookup, groups=tuple(groups),
        attributes=attributes, timeout=timeout, requesters=requesters,
        nested_groups=bool(nested) and kind != "ad",
    )


EVERYONE = "*"


def parse_requesters(raw: Any, where: str, problems: list[str]) -> tuple[str, ...]:
    """``requesters``: ``all`` (anyone the directory or provider signs in), a list of groups,
    or nothing (only people in a mapped group sign in); problems are appended to ``problems``."""
    if raw in (None, False, "", "none"):
        return ()
    if raw in ("all", True):
        return (EVERYONE,)
    if isinstance(raw, str):
        raw = [raw]
    if not isinstance(raw, list) or not all(isinstance(g, str) and g.strip() for g in raw):
        problems.append(f"{where}: expected 'all' or a list of groups, got {raw!r}")
        return ()
    return tuple(normalise_group(g) for g in raw)


def may_request(groups: list[str], requesters: tuple[str, ...]) -> bool:
    """Whether someone in no mapped group may still sign in as a requester (to the help desk
    and their own requests only); groups match by the same rule as the role mapping."""
    if EVERYONE in requesters:
        return True
    return role_for_groups(groups, tuple((g, Role.VIEWER) for g in requesters)) is not None


def acceptable_username(username: str) -> bool:
    """Directory user names are plain (letters, digits, ``._@+-``): anything with LDAP filter
    or DN syntax in it (``*)(uid=*``) is refused before it reaches the server."""
    return bool(_USERNAME.fullmatch(username))


def normalise_dn(dn: str) -> str:
    """Lower-case, no spaces around ``=`` and ``,`` — DNs compare case-insensitively."""
    return ",".join("=".join(p.strip() for p in rdn.split("=", 1)) for rdn in dn.split(",")).lower()


def normalise_group(group: str) -> str:
    """A group as the role mapping compares it: a DN normalised (:func:`normalise_dn`), a plain
    group name (an OpenID Connect ``groups`` claim: ``dc-duty``, ``/dc/leads``, an Entra id)
    stripped and lower-cased."""
    return normalise_dn(group) if "=" in group else group.strip().lower()


def role_for_groups(groups: list[str], mapping: tuple[tuple[str, Role], ...]) -> Role | None:
    """The most powerful role any of the person's groups maps to, or ``None`` (no access).

    One rule for the directory and OpenID Connect: a mapping key with a comma is a full DN; one
    without (``cn=dc-duty``) matches a group's first part, wherever the group lives; a plain
    name (``dc-duty``) matches a plain group name or the value of a DN's first part.
    """
    best: Role | None = None
    for group in (normalise_group(g) for g in groups):
        first = group.split(",", 1)[0] if "=" in group else group
        names = (first, first.split("=", 1)[-1])
        for key, role in mapping:
            matches = key == group if "," in key else key in names
            if matches and (best is None or role.rank > best.rank):
                best = role
    return best


def group_filter(kind: str, user_dn_escaped: str) -> str:
    """The filter finding the groups of a user (AD: nested ones too)."""
    if kind == "ad":
        return f"(member:{AD_IN_CHAIN}:={user_dn_escaped})"
    return (f"(|(&(objectClass=groupOfNames)(member={user_dn_escaped}))"
            f"(&(objectClass=groupOfUniqueNames)(uniqueMember={user_dn_escaped})))")


MAX_NESTING = 10  # levels of groups inside groups walked; deeper is a loop or a mistake


def walk_groups(
    direct: list[str], parents_of: Callable[[list[str]], list[str]], max_depth: int = MAX_NESTING
) -> list[str]:
    """The person's groups with every group that contains one of them, level by level, as AD's
    ``LDAP_MATCHING_RULE_IN_CHAIN`` does on the server: ``parents_of(groups)`` answers the groups
    having any of ``groups`` as a member. A group is asked about once, so cycles end."""
    seen = {normalise_dn(g): g for g in direct}
    frontier = list(seen.values())
    for _ in range(max_depth):
        if not frontier:
            break
        found = [g for g in parents_of(frontier) if normalise_dn(g) not in seen]
        frontier = []
        for group in found:
            if normalise_dn(group) not in seen:
                seen[normalise_dn(group)] = group
                frontier.append(group)
    return list(seen.values())


def ad_disabled(user_account_control: Any) -> bool:
    try:
        return bool(int(user_account_control) & AD_ACCOUNT_DISABLED)
    except (TypeError, ValueError):
        return False


@dataclass(frozen=True, slots=True)
class Person:
    """What the directory says about a person who may sign in. ``role`` is ``None`` for a
    requester: in no mapped group, but allowed to the help desk ("my requests")."""

    dn: str
    username: str
    email: str
    name: str
    phone: str | None
    language: str | None
    role: Role | None


def language_code(value: str | None, supported: tuple[str, ...]) -> str | None:
    """``preferredLanguage`` such as ``ru-RU, en;q=0.8`` → ``ru`` when supported."""
    if not value:
        return None
    code = value.split(",")[0].split(";")[0].strip().lower()[:2]
    return code if code in supported else None
