"""DNS check with dnspython's asyncio resolver: record type, expected answers, which server.

Answers are compared case-insensitively and without the trailing dot of names; A and AAAA
answers as addresses (``2001:DB8:0::10`` equals ``2001:db8::10``); TXT answers
are compared as their joined text (no quotes). By default every expected answer must be among
the answers (``exact: true`` demands the same set).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from datetime import datetime

import dns.asyncresolver
import dns.exception
import dns.name
import dns.rdatatype
import dns.resolver

from checks.probes.base import ProbeContext, Stopwatch, make_result
from checks.result import Result, Status
from checks.specs import SpecError, SpecReader, format_duration

RECORD_TYPES = ("A", "AAAA", "CNAME", "MX", "NS", "TXT", "SOA", "PTR", "SRV", "CAA")


@dataclass(frozen=True, slots=True)
class DnsSpec:
    name: str
    record_type: str = "A"
    expected: tuple[str, ...] = ()
    exact: bool = False
    server: str | None = None  # IP address of the resolver to ask; None = system resolvers
    port: int = 53
    tcp: bool = False
    timeout: float = 5.0

    @classmethod
    def from_dict(cls, d: dict) -> DnsSpec:
        r = SpecReader(d, "dns check")
        name = r.string("name")
        try:
            dns.name.from_text(name)
        except dns.exception.DNSException as exc:
            raise SpecError("name", name, f"is not a valid DNS name ({exc})") from None
        server = r.string("server", None)
        if server is not None:
            try:
                ipaddress.ip_address(server)
            except ValueError:
                raise SpecError("server", server,
                                "must be the IP address of a DNS server, e.g. 10.0.0.53") from None
        spec = cls(
            name=name,
            record_type=r.string("record_type", "A").upper(),
            expected=r.string_list("expected", ()),
            exact=r.boolean("exact", False),
            server=server,
            port=r.integer("port", 53, minimum=1, maximum=65535),
            tcp=r.boolean("tcp", False),
            timeout=r.duration("timeout", 5.0, minimum=0.1, maximum=60),
        )
        r.finish()
        if spec.record_type not in RECORD_TYPES:
            raise SpecError("record_type", d.get("record_type"),
                            f"must be one of {', '.join(RECORD_TYPES)}")
        if spec.exact and not spec.expected:
            raise SpecError("exact", True, "needs a list of expected answers")
        version = _ADDRESS_VERSION.get(spec.record_type)
        for i, item in enumerate(spec.expected):
            if version is not None and _address(item, version) is None:
                raise SpecError(f"expected[{i}]", item,
                                f"is not an IPv{version} address (record type "
                                f"{spec.record_type})")
        return spec

    def to_dict(self) -> dict:
        return {
            "name": self.name, "record_type": self.record_type, "expected": list(self.expected),
            "exact": self.exact, "server": self.server, "port": self.port, "tcp": self.tcp,
            "timeout": self.timeout,
        }


_ADDRESS_VERSION = {"A": 4, "AAAA": 6}


def _address(text: str, version: int) -> str | None:
    try:
        address = ipaddress.ip_address(text.strip())
    except ValueError:
        return None
    return address.compressed if address.version == version else None


def normalize_answer(text: str, record_type: str = "") -> str:
    """Canonical form for comparing answers: lower case, no trailing dot, no TXT quotes; A and
    AAAA answers as addresses (``2001:DB8:0::10`` and ``2001:db8::10`` are one address)."""
    version = _ADDRESS_VERSION.get(record_type.upper())
    if version is not None:
        address = _address(text, version)
        if address is not None:
            return address
    cleaned = text.strip()
    if len(cleaned) >= 2 and cleaned[0] == cleaned[-1] == '"':
        cleaned = cleaned[1:-1]
    return cleaned.rstrip(".").lower() if not cleaned.endswith("\\.") else cleaned.lower()


def _answer_text(rdata: object) -> str:
    strings = getattr(rdata, "strings", None)
    if strings is not None:  # TXT: the joined character-strings, without quotes
        return b"".join(strings).decode("utf-8", "replace")
    return rdata.to_text()  # type: ignore[attr-defined]


def _resolver(spec: DnsSpec) -> dns.asyncresolver.Resolver:
    if spec.server is None:
        resolver = dns.asyncresolver.Resolver()  # reads /etc/resolv.conf
    else:
        resolver = dns.asyncresolver.Resolver(configure=False)
        resolver.nameservers = [spec.server]
    resolver.port = spec.port
    resolver.lifetime = spec.timeout
    resolver.timeout = spec.timeout
    resolver.cache = None
    return resolver


async def probe(spec: DnsSpec, now: datetime, ctx: ProbeContext | None = None) -> Result:
    """Resolve ``spec.name`` and compare the answers. Never raises for a failed lookup."""
    watch = Stopwatch()
    where = f"{spec.server}:{spec.port}" if spec.server else "the system resolver"
    query = f"{spec.record_type} {spec.name}"
    try:
        answer = await _resolver(spec).resolve(
            spec.name, spec.record_type, tcp=spec.tcp, search=False, raise_on_no_answer=True
        )
    except dns.resolver.NXDOMAIN:
        return make_result(Status.CRITICAL, f"{spec.name} does not exist (NXDOMAIN) at {where}",
                           now, watch)
    except dns.resolver.NoAnswer:
        return make_result(Status.CRITICAL, f"no {spec.record_type} record for {spec.name} "
                           f"at {where}", now, watch)
    except dns.resolver.LifetimeTimeout:
        return make_result(Status.CRITICAL, f"{query}: no answer from {where} within "
                           f"{spec.timeout:g} s", now, watch)
    except dns.resolver.NoNameservers as exc:
        return make_result(Status.CRITICAL, f"{query}: {where} failed to answer "
                           f"({_server_error(exc)})", now, watch)
    except dns.exception.DNSException as exc:
        return make_result(Status.CRITICAL, f"{query}: {exc}", now, watch)
    except OSError as exc:
        return make_result(Status.CRITICAL, f"{query}: cannot reach {where} ({exc})", now, watch)
    response_time = watch.elapsed()
    # sorted: an RRset has no order, and a stable message keeps alert dedup stable too
    answers = tuple(sorted(_answer_text(rdata) for rdata in answer))
    seen = {normalize_answer(a, spec.record_type) for a in answers}
    wanted = {normalize_answer(e, spec.record_type) for e in spec.expected}
    shown = ", ".join(answers) if len(answers) <= 5 else ", ".join(answers[:5]) + ", …"
    metrics = {"response_time": response_time, "answers": len(answers)}
    missing = sorted(wanted - seen)
    if missing:
        return make_result(Status.CRITICAL, f"{query}: expected {', '.join(missing)}, "
                           f"got {shown}", now, watch, **metrics)
    if spec.exact and seen != wanted:
        extra = sorted(seen - wanted)
        return make_result(Status.CRITICAL, f"{query}: unexpected {', '.join(extra)} "
                           f"(expected exactly {', '.join(spec.expected)})", now, watch,
                           **metrics)
    return make_result(Status.OK, f"{query} = {shown} ({format_duration(response_time)})",
                       now, watch, **metrics)


def _server_error(exc: dns.resolver.NoNameservers) -> str:
    errors = exc.kwargs.get("errors") or []
    texts = sorted({str(error[3]) for error in errors if len(error) > 3 and error[3]})
    return ", ".join(texts) or "no usable answer"
