"""Outgoing webhooks may not reach inside: one guard for every URL a user gives us to POST to.

A webhook URL typed by a signed-in user makes the *worker* send a request, from inside the
network. Without a guard anyone who may add a contact method could make us POST to the cloud
metadata service (169.254.169.254), to PostgreSQL on 127.0.0.1:5432 or to the management LAN.
So outgoing webhooks (contact methods, status-page subscribers, chat channels) may only reach
public (globally routable) addresses, unless the operator lists a network in ``outbound_allow``.

- :func:`refusal` is the rule, pure: why an address is refused, or ``None``.
- :func:`url_problem` is for forms and the API at creation time (a 4xx with the reason).
- :func:`post` is the only way a webhook is sent: it resolves the name, vets *every* address,
  then connects to the vetted address itself (the Host header and TLS SNI/certificate check
  keep the name), so a DNS answer that changes between check and connect (rebinding) gains
  nothing. It does so for every request; the connection itself is kept alive and reused only
  for requests whose address was vetted again (``dutydesk.core.pinned_http``). Redirects are
  not followed, proxies from the environment are not used, cookies are not kept.

Checks are not affected: probing private addresses is their job (and only roles that may edit
checks create them).
"""

from __future__ import annotations

import base64
import functools
import ipaddress
import os
import socket
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

from dutydesk.core import pinned_http

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Resolver = Callable[[str, int], list[str]]


class OutboundRefused(ValueError):
    """The URL may not be called; ``reason`` says why in words a person understands."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def networks(allowed: Iterable[str]) -> tuple[Network, ...]:
    """``["10.0.0.0/8", "192.168.1.5"]`` → networks (the config validated the syntax)."""
    return tuple(ipaddress.ip_network(item, strict=False) for item in allowed)


def _kind(ip: IPAddress) -> str | None:
    """What sort of non-public address ``ip`` is, or None when it is public."""
    if ip.is_unspecified:
        return "unspecified"
    if ip.is_loopback:
        return "loopback"
    if ip.is_link_local:
        return "link-local"  # cloud metadata services live here
    if ip.is_multicast:
        return "multicast"
    if ip.is_private:
        return "private"
    if not ip.is_global:
        return "reserved, not globally routable"
    return None


def refusal(ip: IPAddress, allowed: Sequence[Network] = ()) -> str | None:
    """Why a webhook may not connect to ``ip``, or None when it may.

    Public addresses may; any other (loopback, private, link-local, shared, reserved, multicast,
    unspecified; IPv4-mapped IPv6 judged as its IPv4) only when inside ``allowed``.
    """
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    kind = _kind(ip)
    if kind is None or any(ip.version == net.version and ip in net for net in allowed):
        return None
    return (f"{ip} is a {kind} address; outgoing webhooks may not reach it unless the "
            "operator lists its network in outbound_allow")


def system_resolver(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to (IPv4 first)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    found = list(dict.fromkeys(str(info[4][0]) for info in infos))
    return sorted(found, key=lambda a: ":" in a)


@dataclass(frozen=True, slots=True)
class Target:
    """A webhook URL taken apart, with the vetted addresses to connect to."""

    scheme: str
    host: str
    port: int
    addresses: tuple[str, ...]


def _split(url: str) -> tuple[Any, str, int]:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise OutboundRefused(f"a webhook URL must start with http:// or https://, got {url!r}")
    try:
        host, port = parts.hostname, parts.port
    except ValueError:
        raise OutboundRefused(f"the port in {url!r} is not a number from 1 to 65535") from None
    if not host:
        raise OutboundRefused(f"the webhook URL {url!r} names no host")
    return parts, host, port or (443 if parts.scheme == "https" else 80)


def vet(url: str, allowed: Sequence[Network], resolver: Resolver = system_resolver) -> Target:
    """Resolve ``url``'s host and vet every address. Raises ``OutboundRefused`` when any is
    refused, and ``OSError`` (``socket.gaierror``) when the name does not resolve."""
    parts, host, port = _split(url)
    try:
        literal: IPAddress | None = ipaddress.ip_address(host)
    except ValueError:
        literal = None
    addresses = [str(literal)] if literal is not None else resolver(host, port)
    for address in addresses:
        reason = refusal(ipaddress.ip_address(address.split("%", 1)[0]), allowed)
        if reason is not None:
            shown = reason if literal is not None else f"{host} resolves to {reason}"
            raise OutboundRefused(shown)
    if not addresses:
        raise socket.gaierror(f"{host} has no address")
    return Target(parts.scheme, host, port, tuple(addresses))


def url_problem(url: str, allowed: Iterable[str],
                resolver: Resolver = system_resolver) -> str | None:
    """For forms and APIs: why this webhook URL is refused, or None.

    A name that does not resolve now is accepted (it may be fixed in DNS later); :func:`post`
    checks again at every send.
    """
    try:
        vet(url, networks(allowed), resolver)
    except OutboundRefused as exc:
        return exc.reason
    except OSError:
        return None
    return None


CONNECTIONS = pinned_http.Connections()
os.register_at_fork(after_in_child=CONNECTIONS.forget)


@functools.lru_cache(maxsize=32)
def _allowed_networks(allowed: tuple[str, ...]) -> tuple[Network, ...]:
    return networks(allowed)


def _basic_auth(username: str, password: str) -> str:
    try:
        raw = f"{username}:{password}".encode("latin-1")  # as requests encodes it
    except UnicodeEncodeError:
        raw = f"{username}:{password}".encode()
    return "Basic " + base64.b64encode(raw).decode("ascii")


def post(url: str, *, data: bytes, headers: dict[str, str], timeout: float,
         allowed: Iterable[str], resolver: Resolver = system_resolver,
         verify: bool | str = True,
         connections: pinned_http.Connections | None = None) -> pinned_http.Response:
    """POST ``data`` to ``url`` through the guard (see the module docstring): the name is
    resolved and every address vetted for *this* request, then it goes over a kept-alive
    connection to the first vetted address (``dutydesk.core.pinned_http``, pooled per name,
    port and address; ``connections`` defaults to the process's pools). ``verify``: True
    (certifi's CA bundle), a CA bundle path, or False.

    Raises ``OutboundRefused`` (a permanent problem of the URL), ``OSError`` (name resolution,
    connection, timeout, TLS) or ``http.client.HTTPException`` (a malformed answer).
    """
    target = vet(url, _allowed_networks(tuple(allowed)), resolver)
    parts = urlsplit(url)
    path = quote(parts.path or "/", safe=_SAFE)
    if parts.query:
        path += "?" + quote(parts.query, safe=_SAFE)
    default_port = (target.scheme == "https" and target.port == 443) or (
        target.scheme == "http" and target.port == 80)
    host_header = target.host if ":" not in target.host else f"[{target.host}]"
    if not default_port:
        host_header += f":{target.port}"
    sent = {**headers, "Host": host_header}
    if parts.username:
        sent["Authorization"] = _basic_auth(parts.username, parts.password or "")
    endpoint = pinned_http.Endpoint(target.scheme, target.host, target.port,
                                    target.addresses[0], verify)
    return (connections or CONNECTIONS).request(endpoint, "POST", path, data, sent, timeout)


# What stays as it is in a request target (RFC 3986 reserved characters and "%"); anything
# else, e.g. a space a user typed, is percent-encoded as requests did.
_SAFE = ":/?#[]@!$&'()*+,;=%"
