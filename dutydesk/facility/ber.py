"""A small, strict BER reader for the common case: SNMPv1 Trap-PDUs and SNMPv2c SNMPv2-Trap-PDUs.

pysnmp decodes every datagram with pyasn1, which costs most of the listener's CPU time. Almost
every trap a data center sends is a plain v1 or v2c trap, so ``decode_trap(datagram)`` reads
exactly those and answers ``None`` for anything else — SNMPv3, informs, other PDUs, any
encoding it is not sure about (indefinite lengths, high tag numbers, non-minimal OID arcs,
values out of their SMI range, trailing bytes, types it does not know). The listener hands a
``None`` to pysnmp, which then decides (and counts the packet as rejected when it is bad), so
the fast path never accepts what pysnmp would refuse and never refuses anything itself.

The result matches what pysnmp's notification receiver hands its callback: for v1 traps the
RFC 3584 §3.1 translation (snmpTrapOID from generic/specific trap, then snmpTrapAddress,
snmpTrapCommunity and snmpTrapEnterprise before the trap's own variables), and each value as
its ``prettyPrint()`` text. tests/dutydesk/facility/test_ber.py compares the two on many
generated traps.
"""

from __future__ import annotations

from dataclasses import dataclass

SYS_UPTIME = "1.3.6.1.2.1.1.3.0"
SNMP_TRAP_OID = "1.3.6.1.6.3.1.1.4.1.0"
SNMP_TRAP_ADDRESS = "1.3.6.1.6.3.18.1.3.0"
SNMP_TRAP_COMMUNITY = "1.3.6.1.6.3.18.1.4.0"
SNMP_TRAP_ENTERPRISE = "1.3.6.1.6.3.1.1.4.3.0"
GENERIC_TRAPS = "1.3.6.1.6.3.1.1.5."

_SEQUENCE, _INTEGER, _OCTETS, _NULL, _OID = 0x30, 0x02, 0x04, 0x05, 0x06
_IPADDRESS, _COUNTER32, _GAUGE32, _TIMETICKS, _COUNTER64 = 0x40, 0x41, 0x42, 0x43, 0x46
_V1_TRAP, _V2_TRAP = 0xA4, 0xA7
_INT32 = (-(2**31), 2**31 - 1)
_UNSIGNED = {_COUNTER32: 2**32 - 1, _GAUGE32: 2**32 - 1, _TIMETICKS: 2**32 - 1,
             _COUNTER64: 2**64 - 1}
_MAX_ARCS = 128
_MAX_ARC = 2**32 - 1


class _Unsure(Exception):
    """Not something this reader vouches for: let pysnmp decide."""


@dataclass(frozen=True, slots=True)
class VarBind:
    oid: str
    text: str  # the value as pysnmp's prettyPrint() shows it
    is_oid: bool = False  # an OBJECT IDENTIFIER value (the listener translates it to a name)


@dataclass(frozen=True, slots=True)
class DecodedTrap:
    version: str  # "1" or "2c"
    community: bytes
    var_binds: tuple[VarBind, ...]  # v2-style, starting with sysUpTime.0 and snmpTrapOID.0


def _header(data: bytes, pos: int, end: int) -> tuple[int, int, int]:
    """(tag, first content byte, end of content) of the element at ``pos``; definite lengths
    only, inside ``end``."""
    if pos + 2 > end:
        raise _Unsure
    tag = data[pos]
    if tag & 0x1F == 0x1F:
        raise _Unsure  # high tag number form: nothing SNMP sends
    first = data[pos + 1]
    pos += 2
    if first < 0x80:
        length = first
    else:
        count = first & 0x7F
        if count == 0 or count > 4 or pos + count > end:
            raise _Unsure  # indefinite length or absurd
        length = int.from_bytes(data[pos:pos + count], "big")
        pos += count
    if pos + length > end:
        raise _Unsure
    return tag, pos, pos + length


def _expect(data: bytes, pos: int, end: int, tag: int) -> tuple[int, int]:
    found, start, stop = _header(data, pos, end)
    if found != tag:
        raise _Unsure
    return start, stop


def _integer(data: bytes, start: int, stop: int) -> int:
    if stop <= start:
        raise _Unsure
    if stop - start > 9:  # (a redundant leading byte is read as pyasn1 reads it)
        raise _Unsure
    return int.from_bytes(data[start:stop], "big", signed=True)


def _oid(data: bytes, start: int, stop: int) -> str:
    if stop <= start or data[stop - 1] & 0x80:
        raise _Unsure
    arcs: list[int] = []
    value, fresh = 0, True
    for byte in data[start:stop]:
        if fresh and byte == 0x80:
            raise _Unsure  # non-minimal sub-identifier
        value = (value << 7) | (byte & 0x7F)
        fresh = not byte & 0x80
        if fresh:
            arcs.append(value)
            value = 0
    first = arcs[0]
    head = [0, first] if first < 40 else [1, first - 40] if first < 80 else [2, first - 80]
    arcs[0:1] = head
    if len(arcs) > _MAX_ARCS or max(arcs) > _MAX_ARC:
        raise _Unsure
    return ".".join(map(str, arcs))


def _octets_text(raw: bytes) -> str:
    """OctetString.prettyPrint(): printable ASCII as is, anything else as 0x-hex."""
    if all(32 <= b <= 126 for b in raw):
        return raw.decode("ascii")
    return "0x" + raw.hex()


def _value(data: bytes, pos: int, end: int, v1: bool) -> tuple[str, bool]:
    tag, start, stop = _header(data, pos, end)
    if stop != end:
        raise _Unsure
    if tag == _INTEGER:
        number = _integer(data, start, stop)
        if not _INT32[0] <= number <= _INT32[1]:
            raise _Unsure
        return str(number), False
    if tag == _OCTETS:
        return _octets_text(data[start:stop]), False
    if tag == _OID:
        return _oid(data, start, stop), True
    if tag == _IPADDRESS:
        if stop - start != 4:
            raise _Unsure
        return ".".join(str(b) for b in data[start:stop]), False
    if tag in _UNSIGNED and not (v1 and tag == _COUNTER64):
        number = _integer(data, start, stop)
        if not 0 <= number <= _UNSIGNED[tag]:
            raise _Unsure
        return str(number), False
    raise _Unsure  # NULL, Opaque, exceptions, anything else: pysnmp decides


def _var_binds(data: bytes, pos: int, end: int, v1: bool) -> list[VarBind]:
    start, stop = _expect(data, pos, end, _SEQUENCE)
    if stop != end:
        raise _Unsure
    binds: list[VarBind] = []
    pos = start
    while pos < stop:
        bind_start, bind_stop = _expect(data, pos, stop, _SEQUENCE)
        oid_start, oid_stop = _expect(data, bind_start, bind_stop, _OID)
        oid = _oid(data, oid_start, oid_stop)
        text, is_oid = _value(data, oid_stop, bind_stop, v1)
        binds.append(VarBind(oid, text, is_oid))
        pos = bind_stop
    return binds


def _v2_trap(data: bytes, start: int, stop: int) -> list[VarBind]:
    pos = start
    for index in range(3):  # request-id, error-status, error-index
        int_start, int_stop = _expect(data, pos, stop, _INTEGER)
        number = _integer(data, int_start, int_stop)
        if not _INT32[0] <= number <= _INT32[1] or (index and number):
            raise _Unsure  # (a trap's error fields are 0; anything else: pysnmp decides)
        pos = int_stop
    return _var_binds(data, pos, stop, v1=False)


def _v1_trap(data: bytes, start: int, stop: int, community: bytes) -> list[VarBind]:
    oid_start, oid_stop = _expect(data, start, stop, _OID)
    enterprise = _oid(data, oid_start, oid_stop)
    addr_start, addr_stop = _expect(data, oid_stop, stop, _IPADDRESS)
    if addr_stop - addr_start != 4:
        raise _Unsure
    address = ".".join(str(b) for b in data[addr_start:addr_stop])
    numbers = []
    pos = addr_stop
    for tag in (_INTEGER, _INTEGER, _TIMETICKS):  # generic-trap, specific-trap, time-stamp
        int_start, int_stop = _expect(data, pos, stop, tag)
        numbers.append(_integer(data, int_start, int_stop))
        pos = int_stop
    generic, specific, stamp = numbers
    if not 0 <= generic <= 6 or not 0 <= specific <= _INT32[1]:
        raise _Unsure
    if not 0 <= stamp <= _UNSIGNED[_TIMETICKS]:
        raise _Unsure
    trap_oid = f"{enterprise}.0.{specific}" if generic == 6 else f"{GENERIC_TRAPS}{generic + 1}"
    return [
        VarBind(SYS_UPTIME, str(stamp)),
        VarBind(SNMP_TRAP_OID, trap_oid, True),
        VarBind(SNMP_TRAP_ADDRESS, address),
        VarBind(SNMP_TRAP_COMMUNITY, _octets_text(community)),
        VarBind(SNMP_TRAP_ENTERPRISE, enterprise, True),
        *_var_binds(data, pos, stop, v1=True),
    ]


def decode_trap(data: bytes) -> DecodedTrap | None:
    """A v1 or v2c trap datagram, decoded; ``None`` when this reader is not sure (pysnmp then
    decides). Never raises."""
    try:
        start, stop = _expect(data, 0, len(data), _SEQUENCE)
        if stop != len(data):
            return None
        ver_start, ver_stop = _expect(data, start, stop, _INTEGER)
        version = _integer(data, ver_start, ver_stop)
        if version not in (0, 1):
            return None
        com_start, com_stop = _expect(data, ver_stop, stop, _OCTETS)
        community = data[com_start:com_stop]
        tag, pdu_start, pdu_stop = _header(data, com_stop, stop)
        if pdu_stop != stop:
            return None
        if version == 0 and tag == _V1_TRAP:
            binds = _v1_trap(data, pdu_start, pdu_stop, community)
        elif version == 1 and tag == _V2_TRAP:
            binds = _v2_trap(data, pdu_start, pdu_stop)
        else:
            return None
    except (_Unsure, IndexError, ValueError):
        return None
    return DecodedTrap("1" if version == 0 else "2c", community, tuple(binds))
