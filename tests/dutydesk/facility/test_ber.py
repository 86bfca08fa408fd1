"""The fast trap reader reads plain v1/v2c traps exactly as pysnmp does, and leaves anything it is
not sure about (v3, informs, odd or broken encodings) to pysnmp — it never raises."""

from __future__ import annotations

import random

from pyasn1.codec.ber import decoder, encoder
from pysnmp.proto import api
from pysnmp.proto.proxy import rfc2576

from dutydesk.facility.ber import decode_trap

V1 = api.PROTOCOL_MODULES[api.SNMP_VERSION_1]
V2 = api.PROTOCOL_MODULES[api.SNMP_VERSION_2C]


def random_oid(rng: random.Random) -> str:
    first = rng.choice([0, 1, 2])
    second = rng.randrange(40) if first < 2 else rng.choice([0, 5, 39, 100, 1000])
    tail = [rng.choice([0, 1, 127, 128, 255, 16383, 16384, 2**31, 2**32 - 1, rng.randrange(500)])
            for _ in range(rng.randrange(0, 12))]
    return ".".join(map(str, [first, second, *tail]))


def random_value(rng: random.Random, proto, v1: bool):
    kinds = ["int", "octets", "text", "oid", "ip", "counter", "gauge", "ticks"]
    if not v1:
        kinds.append("counter64")
    kind = rng.choice(kinds)
    if kind == "int":
        return proto.Integer(rng.choice([0, -1, 127, 128, -129, 2**31 - 1, -(2**31),
                                         rng.randrange(-(2**31), 2**31)]))
    if kind == "octets":
        return proto.OctetString(bytes(rng.randrange(256) for _ in range(rng.randrange(0, 40))))
    if kind == "text":
        return proto.OctetString("".join(chr(rng.randrange(32, 127))
                                         for _ in range(rng.randrange(0, 300))))
    if kind == "oid":
        return proto.ObjectIdentifier(random_oid(rng))
    if kind == "ip":
        return proto.IpAddress(".".join(str(rng.randrange(256)) for _ in range(4)))
    number = rng.choice([0, 1, 2**31, 2**32 - 1, rng.randrange(2**32)])
    if kind == "counter":
        return (proto.Counter if v1 else proto.Counter32)(number)
    if kind == "gauge":
        return (proto.Gauge if v1 else proto.Gauge32)(number)
    if kind == "ticks":
        return proto.TimeTicks(number)
    return proto.Counter64(rng.choice([0, 2**64 - 1, rng.randrange(2**64)]))


def random_trap(rng: random.Random) -> bytes:
    v1 = rng.random() < 0.4
    proto = V1 if v1 else V2
    pdu = proto.TrapPDU() if v1 else proto.SNMPv2TrapPDU()
    proto.apiTrapPDU.set_defaults(pdu)
    binds = [(proto.ObjectIdentifier(random_oid(rng)), random_value(rng, proto, v1))
             for _ in range(rng.randrange(0, 8))]
    if v1:
        proto.apiTrapPDU.set_enterprise(pdu, random_oid(rng))
        proto.apiTrapPDU.set_agent_address(pdu, ".".join(str(rng.randrange(256)) for _ in "abcd"))
        proto.apiTrapPDU.set_generic_trap(pdu, rng.randrange(7))
        proto.apiTrapPDU.set_specific_trap(pdu, rng.choice([0, 1, 2**31 - 1, rng.randrange(99)]))
        proto.apiTrapPDU.set_timestamp(pdu, rng.randrange(2**32))
        proto.apiTrapPDU.set_varbinds(pdu, binds)
    else:
        trap = proto.ObjectIdentifier(random_oid(rng))
        proto.apiTrapPDU.set_varbinds(pdu, [
            (proto.ObjectIdentifier("1.3.6.1.2.1.1.3.0"), proto.TimeTicks(rng.randrange(2**32))),
            (proto.ObjectIdentifier("1.3.6.1.6.3.1.1.4.1.0"), trap), *binds])
    message = proto.Message()
    proto.apiMessage.set_defaults(message)
    proto.apiMessage.set_community(message, rng.choice(["public", "", "s3cr\x01t", "x" * 200]))
    proto.apiMessage.set_pdu(message, pdu)
    return encoder.encode(message)


def pysnmp_reading(datagram: bytes):
    """What pysnmp's notification receiver hands its callback: (version, community, binds)."""
    version = int(api.decodeMessageVersion(datagram))
    proto = api.PROTOCOL_MODULES[version]
    message, rest = decoder.decode(datagram, asn1Spec=proto.Message())
    assert not rest
    community = bytes(proto.apiMessage.get_community(message))
    pdu = proto.apiMessage.get_pdu(message)
    if version == api.SNMP_VERSION_1:
        pdu = rfc2576.v1_to_v2(pdu, snmpTrapCommunity=proto.apiMessage.get_community(message))
    binds = tuple((str(oid), value.prettyPrint(), type(value).__name__ == "ObjectIdentifier")
                  for oid, value in V2.apiPDU.get_varbinds(pdu))
    return ("1" if version == 0 else "2c"), community, binds


def fast_reading(datagram: bytes):
    decoded = decode_trap(datagram)
    if decoded is None:
        return None
    return (decoded.version, decoded.community,
            tuple((b.oid, b.text, b.is_oid) for b in decoded.var_binds))


def test_thousands_of_generated_v1_and_v2c_traps_read_exactly_as_pysnmp_reads_them():
    rng = random.Random(19)
    for _ in range(3000):
        datagram = random_trap(rng)
        fast = fast_reading(datagram)
        assert fast is not None, datagram.hex()
        assert fast == pysnmp_reading(datagram), datagram.hex()


def test_the_traps_net_snmp_sends_for_a_ups_and_a_switch_are_read_by_the_fast_path():
    from tests.dutydesk.facility.conftest import v2c_trap_packet

    datagram = v2c_trap_packet("1.3.6.1.6.3.1.1.5.3", variables=(("1.3.6.1.2.1.2.2.1.1.3", 3),))
    version, community, binds = fast_reading(datagram)
    assert (version, community) == ("2c", b"public")
    assert binds[1] == ("1.3.6.1.6.3.1.1.4.1.0", "1.3.6.1.6.3.1.1.5.3", True)
    assert binds[2] == ("1.3.6.1.2.1.2.2.1.1.3", "3", False)


def test_broken_or_mutated_datagrams_never_raise_and_are_never_read_differently_from_pysnmp():
    rng = random.Random(1628)
    for _ in range(3000):
        data = bytearray(random_trap(rng))
        how = rng.randrange(4)
        if how == 0:
            data = data[:rng.randrange(len(data))]
        elif how == 1:
            for _ in range(rng.randrange(1, 4)):
                data[rng.randrange(len(data))] = rng.randrange(256)
        elif how == 2:
            data += bytes(rng.randrange(256) for _ in range(rng.randrange(1, 5)))
        else:
            del data[rng.randrange(len(data))]
        fast = fast_reading(bytes(data))  # must not raise
        if fast is None:
            continue
        try:
            expected = pysnmp_reading(bytes(data))
        except Exception as exc:  # pysnmp refuses it: the fast path must not have accepted it
            raise AssertionError(f"fast path accepted what pysnmp refuses ({exc}): "
                                 f"{bytes(data).hex()}") from exc
        assert fast == expected, bytes(data).hex()


def test_anything_but_a_plain_v1_or_v2c_trap_is_left_to_pysnmp():
    from tests.dutydesk.facility.conftest import v2c_trap_packet

    trap = v2c_trap_packet("1.3.6.1.2.1.33.2.1")
    inform = bytearray(trap)
    inform[inform.index(0xA7)] = 0xA6  # the same PDU as an InformRequest
    v3 = bytes.fromhex("303e020103")  # msgVersion 3 (the rest does not matter)
    indefinite = bytes([0x30, 0x80]) + trap[2:] + b"\x00\x00"
    for datagram in (bytes(inform), v3, indefinite, b"", b"\x30", b"\x00" * 10, trap + b"\x00"):
        assert decode_trap(datagram) is None
