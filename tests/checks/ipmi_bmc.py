"""OpenIPMI's ipmi_sim as the BMC of the IPMI check's tests.

The fixture writes a lan.conf (one RMCP+ channel on a free loopback UDP port, one user) and an
emulation command file with full sensor records (SDR type 01, IPMI 2.0 section 43.1) for an inlet
temperature, a CPU temperature over its critical threshold, a fan and a failed power supply.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

REQUIRED = os.environ.get("DUTYDESK_REQUIRE_IPMI") == "1" or bool(os.environ.get("CI"))
USER, PASSWORD = "monitor", "ipmi-Secret1"
BMC = "0x20"
# IPMI base unit codes (section 43.17)
CELSIUS, RPM = 1, 18
# sensor types (table 42-3) and entity ids (table 43-13)
TEMPERATURE, FAN, POWER_SUPPLY = 0x01, 0x04, 0x08
SYSTEM_BOARD, PROCESSOR, PSU_ENTITY, FAN_ENTITY = 0x07, 0x03, 0x0A, 0x1D


@dataclass(frozen=True)
class Sensor:
    number: int
    name: str
    sensor_type: int
    entity: int
    unit: int = 0
    threshold: bool = True
    #: upper non-recoverable, critical, non-critical; lower non-recoverable, critical, non-critical
    limits: tuple[int, int, int, int, int, int] = (0, 0, 0, 0, 0, 0)
    readable: str = "000000"  # which thresholds are enabled, leftmost = upper non-recoverable

    def sdr(self) -> str:
        """The full sensor record as the hex bytes main_sdr_add takes."""
        mask = int(self.readable, 2)
        body = bytes([
            0x20, 0x00, self.number, self.entity, 1,
            0x7F if self.threshold else 0x63,  # initialisation: scanning, events, thresholds
            0x68 if self.threshold else 0x40,  # capabilities: auto re-arm, thresholds settable
            self.sensor_type, 0x01 if self.threshold else 0x6F,
            0xFF, 0x7F, 0xFF, 0x7F,  # assertion / deassertion masks
            mask, mask if self.threshold else 0x7F,  # readable / settable thresholds
            0x00, self.unit, 0x00, 0x00,  # unsigned, base unit, no modifier, linear
            1, 0, 0, 0, 0, 0,  # M = 1, B = 0, no exponents: the raw byte is the value
            0x00, 0, 0, 0, 0xFF, 0x00,  # flags, nominal, normal max/min, sensor max/min
            *self.limits,
            0, 0, 0, 0, 0,  # hysteresis, reserved, OEM
            0xC0 | len(self.name),
        ]) + self.name.encode()
        header = bytes([self.number, 0, 0x51, 0x01, len(body)])
        return " ".join(f"0x{b:02x}" for b in header + body)

    def commands(self, value: int | None = None, bits: tuple[int, ...] = ()) -> list[str]:
        kind = "0x01" if self.threshold else "0x6f"
        out = [f"main_sdr_add {BMC} {self.sdr()}",
               f"sensor_add {BMC} 0 {self.number} {self.sensor_type:#04x} {kind}"]
        if self.threshold:
            unr, uc, unc, lnr, lc, lnc = self.limits
            out.append(f"sensor_set_threshold {BMC} 0 {self.number} settable {self.readable} "
                       f"{unr} {uc} {unc} {lnr} {lc} {lnc}")
        if value is not None:
            out.append(f"sensor_set_value {BMC} 0 {self.number} {value} 0")
        out += [f"sensor_set_bit {BMC} 0 {self.number} {bit} 1 0" for bit in bits]
        return out


def emulation() -> str:
    lines = [f"mc_setbmc {BMC}",
             f"mc_add {BMC} 0 no-device-sdrs 0x23 0x09 0x08 0x9f 0x1291 0xf02",
             f"sel_enable {BMC} 1000 0x0a"]
    lines += Sensor(1, "Inlet Temp", TEMPERATURE, SYSTEM_BOARD, CELSIUS,
                    limits=(50, 45, 40, 0, 0, 0), readable="111000").commands(value=24)
    lines += Sensor(2, "CPU Temp", TEMPERATURE, PROCESSOR, CELSIUS,
                    limits=(95, 90, 80, 0, 0, 0), readable="111000").commands(value=92)
    lines += Sensor(3, "Fan 1", FAN, FAN_ENTITY, RPM,
                    limits=(0, 0, 0, 0, 5, 10), readable="000111").commands(value=60)
    # PSU state bits (table 42-3): 0 presence detected, 1 power supply failure detected
    lines += Sensor(4, "PSU2 Status", POWER_SUPPLY, PSU_ENTITY, threshold=False) \
        .commands(bits=(0, 1))
    lines.append(f"mc_enable {BMC}")
    return "\n".join(lines) + "\n"


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def ipmi_sim(directory: Path) -> Iterator[int]:
    """Run ipmi_sim on a free loopback UDP port; yield the port."""
    program = shutil.which("ipmi_sim") or next(
        (p for p in ("/usr/bin/ipmi_sim", "/usr/sbin/ipmi_sim") if os.path.exists(p)), None)
    if program is None:
        message = "ipmi_sim not installed (apt-get install openipmi)"
        if REQUIRED:
            pytest.fail(f"{message} (required in this run: DUTYDESK_REQUIRE_IPMI=1)")
        pytest.skip(message)
    port = free_udp_port()
    control = directory / "chassis_control"
    control.write_text(  # "<device> get power ..." prints "power:1"; set is accepted
        "#!/bin/sh\nshift\n[ \"$1\" = get ] || exit 0\nshift\n"
        "for p in \"$@\"; do case $p in power) echo power:1;; boot) echo boot:default;; esac; "
        "done\n")
    control.chmod(0o755)
    (directory / "lan.conf").write_text(
        'name "dutydesk-test"\n'
        f"set_working_mc {BMC}\n"
        "  startlan 1\n"
        f"    addr 127.0.0.1 {port}\n"
        "    priv_limit admin\n"
        "    allowed_auths_user md5\n    allowed_auths_operator md5\n"
        "    allowed_auths_admin md5\n    allowed_auths_callback md5\n"
        "    guid a123456789abcdefa123456789abcdef\n"
        "  endlan\n"
        f'  chassis_control "{control} {BMC}"\n'
        f'  user 2 true "{USER}" "{PASSWORD}" admin 10 md5\n'
    )
    (directory / "bmc.emu").write_text(emulation())
    state = directory / "state"
    state.mkdir(exist_ok=True)
    log = (directory / "ipmi_sim.log").open("wb")
    process = subprocess.Popen(
        [program, "-n", "-c", str(directory / "lan.conf"), "-f", str(directory / "bmc.emu"),
         "-s", str(state)], stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 10
        while not _listening(port):
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"ipmi_sim did not start: {(directory / 'ipmi_sim.log').read_text()}")
            time.sleep(0.05)
        yield port
    finally:
        process.terminate()
        try:
            process.wait(5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)
        log.close()


def _listening(port: int) -> bool:
    """True once the UDP port is taken (binding it fails)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return True
    return False
