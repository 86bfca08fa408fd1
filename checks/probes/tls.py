"""TLS certificate check: days to expiry, chain validity and hostname match.

The probe first connects with full verification (against ``ca_file`` or the system bundle). If
verification fails it says why ("certificate has expired", "Hostname mismatch", "self-signed
certificate in certificate chain") and reconnects without verification only to read the
certificate, so the expiry date is reported either way.

The expiry date is read from the DER certificate with a tiny ASN.1 reader (validity and
subject/issuer common names only), so no X.509 library is needed.
"""

from __future__ import annotations

import asyncio
import ssl
from dataclasses import dataclass
from datetime import UTC, datetime

from checks.probes.base import (
    ProbeConfigError,
    ProbeContext,
    Stopwatch,
    borrowed,
    describe_error,
    load_ca,
    make_result,
)
from checks.result import Result, Status
from checks.specs import SpecError, SpecReader, check_host

# ---------------------------------------------------------------------------------------------
# Minimal DER reading (RFC 5280: Certificate -> TBSCertificate -> validity, issuer, subject)


class CertificateParseError(ValueError):
    """The bytes are not a DER X.509 certificate this reader understands."""


@dataclass(frozen=True, slots=True)
class CertInfo:
    not_before: datetime
    not_after: datetime
    subject_cn: str | None
    issuer_cn: str | None

    def days_left(self, now: datetime) -> float:
        return (self.not_after - now).total_seconds() / 86400.0


def _read_tlv(data: bytes, pos: int) -> tuple[int, int, int]:
    """Return (tag, content_start, content_end) of the element at ``pos``."""
    if pos + 2 > len(data):
        raise CertificateParseError("truncated DER element")
    tag = data[pos]
    length = data[pos + 1]
    pos += 2
    if length & 0x80:
        count = length & 0x7F
        if count == 0 or count > 4 or pos + count > len(data):
            raise CertificateParseError("unsupported DER length")
        length = int.from_bytes(data[pos:pos + count], "big")
        pos += count
    if pos + length > len(data):
        raise CertificateParseError("DER element longer than the data")
    return tag, pos, pos + length


def _children(data: bytes, start: int, end: int) -> list[tuple[int, int, int]]:
    items = []
    pos = start
    while pos < end:
        tag, s, e = _read_tlv(data, pos)
        items.append((tag, s, e))
        pos = e
    return items


_X509_V_ERR_CERT_HAS_EXPIRED = 10
_CN_OID = bytes([0x55, 0x04, 0x03])  # 2.5.4.3 commonName


def _common_name(data: bytes, start: int, end: int) -> str | None:
    for _set_tag, s, e in _children(data, start, end):
        for _seq_tag, s2, e2 in _children(data, s, e):
            parts = _children(data, s2, e2)
            if len(parts) == 2 and data[parts[0][1]:parts[0][2]] == _CN_OID:
                return data[parts[1][1]:parts[1][2]].decode("utf-8", "replace")
    return None


def _parse_time(tag: int, raw: bytes) -> datetime:
    text = raw.decode("ascii")
    if tag == 0x17:  # UTCTime YYMMDDHHMMSSZ; RFC 5280: YY >= 50 means 19YY
        year = int(text[:2])
        text = f"{1900 + year if year >= 50 else 2000 + year}{text[2:]}"
    elif tag != 0x18:  # GeneralizedTime YYYYMMDDHHMMSSZ
        raise CertificateParseError("validity time has an unknown type")
    return datetime.strptime(text, "%Y%m%d%H%M%SZ").replace(tzinfo=UTC)


def parse_certificate(der: bytes) -> CertInfo:
    """Read validity dates and subject/issuer common names from a DER certificate."""
    try:
        _tag, s, _end = _read_tlv(der, 0)
        _tbs_tag, ts, te = _read_tlv(der, s)
        fields = _children(der, ts, te)
        if fields and fields[0][0] == 0xA0:  # explicit [0] version
            fields = fields[1:]
        # serialNumber, signature, issuer, validity, subject, ...
        _serial, _sig, issuer, validity, subject = fields[:5]
        times = _children(der, validity[1], validity[2])
        not_before = _parse_time(times[0][0], der[times[0][1]:times[0][2]])
        not_after = _parse_time(times[1][0], der[times[1][1]:times[1][2]])
        return CertInfo(
            not_before=not_before,
            not_after=not_after,
            subject_cn=_common_name(der, subject[1], subject[2]),
            issuer_cn=_common_name(der, issuer[1], issuer[2]),
        )
    except (IndexError, ValueError, UnicodeDecodeError) as exc:
        if isinstance(exc, CertificateParseError):
            raise
        raise CertificateParseError(f"cannot read certificate: {exc}") from None


def cert_days_left(der: bytes | None, now: datetime) -> float | None:
    """Days until the certificate expires (negative when expired); None if unreadable."""
    if not der:
        return None
    try:
        return parse_certificate(der).days_left(now)
    except CertificateParseError:
        return None


# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TlsSpec:
    host: str
    port: int = 443
    server_name: str | None = None  # SNI and name to verify; defaults to host
    ca_file: str | None = None
    warn_days: float = 21.0
    crit_days: float = 7.0
    verify_chain: bool = True
    verify_hostname: bool = True
    timeout: float = 10.0

    @classmethod
    def from_dict(cls, d: dict) -> TlsSpec:
        r = SpecReader(d, "tls check")
        spec = cls(
            host=check_host("host", r.string("host")),
            port=r.integer("port", 443, minimum=1, maximum=65535),
            server_name=r.string("server_name", None),
            ca_file=r.string("ca_file", None),
            warn_days=r.number("warn_days", 21.0, minimum=0, maximum=3650, unit="days"),
            crit_days=r.number("crit_days", 7.0, minimum=0, maximum=3650, unit="days"),
            verify_chain=r.boolean("verify_chain", True),
            verify_hostname=r.boolean("verify_hostname", True),
            timeout=r.duration("timeout", 10.0, minimum=0.1, maximum=300),
        )
        r.finish()
        if spec.crit_days > spec.warn_days:
            raise SpecError("crit_days", spec.crit_days,
                            f"must not exceed warn_days ({spec.warn_days:g})")
        return spec

    def to_dict(self) -> dict:
        return {
            "host": self.host, "port": self.port, "server_name": self.server_name,
            "ca_file": self.ca_file, "warn_days": self.warn_days, "crit_days": self.crit_days,
            "verify_chain": self.verify_chain, "verify_hostname": self.verify_hostname,
            "timeout": self.timeout,
        }


async def _handshake(spec: TlsSpec, context: ssl.SSLContext) -> bytes | None:
    name = spec.server_name or spec.host
    _reader, writer = await asyncio.wait_for(
        asyncio.open_connection(
            spec.host, spec.port, ssl=context, server_hostname=name,
            ssl_handshake_timeout=spec.timeout,
        ),
        spec.timeout,
    )
    try:
        ssl_object = writer.get_extra_info("ssl_object")
        return ssl_object.getpeercert(binary_form=True) if ssl_object is not None else None
    finally:
        writer.transport.abort()  # we only wanted the handshake; no need for a TLS goodbye


def _verifying_context(ctx: ProbeContext, spec: TlsSpec) -> ssl.SSLContext:
    if spec.verify_chain and spec.verify_hostname:
        return ctx.ssl_context(True, spec.ca_file)
    context = load_ca(spec.ca_file)
    context.check_hostname = spec.verify_hostname and spec.verify_chain
    if not spec.verify_chain:
        context.verify_mode = ssl.CERT_NONE
    return context


async def probe(spec: TlsSpec, now: datetime, ctx: ProbeContext | None = None) -> Result:
    """Check the certificate served at host:port. Never raises for a failed target."""
    watch = Stopwatch()
    target = f"{spec.host}:{spec.port}"
    async with borrowed(ctx) as c:
        problems: list[str] = []
        try:
            context = _verifying_context(c, spec)
        except ProbeConfigError as exc:
            return make_result(Status.UNKNOWN, str(exc), now, watch)
        try:
            der = await _handshake(spec, context)
        except ssl.SSLCertVerificationError as exc:
            if exc.verify_code != _X509_V_ERR_CERT_HAS_EXPIRED:  # expiry is reported below
                problems.append(_verify_words(exc))
            try:
                der = await _handshake(spec, c.ssl_context(False))
            except (OSError, TimeoutError) as exc2:
                return make_result(Status.CRITICAL, f"{target}: {describe_error(exc2)}", now,
                                   watch)
        except TimeoutError:
            return make_result(Status.CRITICAL, f"{target}: no TLS handshake within "
                               f"{spec.timeout:g} s", now, watch)
        except (OSError, ssl.SSLError) as exc:
            return make_result(Status.CRITICAL, f"{target}: {describe_error(exc)}", now, watch)
    handshake_time = watch.elapsed()
    if not der:
        return make_result(Status.CRITICAL, f"{target}: the server sent no certificate", now,
                           watch)
    try:
        info = parse_certificate(der)
    except CertificateParseError as exc:
        return make_result(Status.UNKNOWN, f"{target}: {exc}", now, watch)
    days = info.days_left(now)
    status = Status.CRITICAL if problems else Status.OK
    expiry = _expiry_words(info, now)
    if days <= spec.crit_days:
        status = Status.CRITICAL
    elif days <= spec.warn_days and status is Status.OK:
        status = Status.WARNING
    who = f"certificate for {info.subject_cn or spec.server_name or spec.host}"
    parts = [f"{who} {expiry}", *problems]
    if status is Status.OK:
        parts.append(f"issued by {info.issuer_cn or 'unknown'}")
    elif status is Status.WARNING:
        parts[0] += f", warning at {spec.warn_days:g} days"
    return make_result(
        status, "; ".join(parts), now, watch,
        cert_expiry_days=days, handshake_time=handshake_time,
    )


def _expiry_words(info: CertInfo, now: datetime) -> str:
    days = info.days_left(now)
    date = info.not_after.strftime("%Y-%m-%d %H:%M UTC")
    if days < 0:
        return f"expired {_days(-days)} ago ({date})"
    return f"expires in {_days(days)} ({date})"


def _days(days: float) -> str:
    if days < 1:
        hours = days * 24
        return f"{hours:.0f} hours" if round(hours) != 1 else "1 hour"
    return f"{days:.0f} days" if round(days) != 1 else "1 day"


def _verify_words(exc: ssl.SSLCertVerificationError) -> str:
    message = exc.verify_message or str(exc.reason or exc)
    if "hostname" in message.lower() or "ip address mismatch" in message.lower():
        return f"name mismatch: {message}"
    return f"chain not trusted: {message}"
