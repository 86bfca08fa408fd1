"""Redfish peers for the tests: sushy-tools' emulator (fake driver, Basic auth, optional TLS)
and sushy-static serving a mockup of a server with a failed PSU and a hot inlet."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import bcrypt
import pytest

from tests.checks.conftest import free_port

REQUIRED = os.environ.get("DUTYDESK_REQUIRE_REDFISH") == "1" or bool(os.environ.get("CI"))
USER, PASSWORD = "monitor", "bmc-secret-Pa55"


def tool(name: str) -> str:
    """The sushy-tools program next to this Python, or on PATH; skip (fail in CI) without it."""
    local = Path(sys.executable).parent / name
    found = str(local) if local.exists() else shutil.which(name)
    if found is None:
        message = f"{name} not installed (pip install sushy-tools)"
        if REQUIRED:
            pytest.fail(f"{message} (required in this run: DUTYDESK_REQUIRE_REDFISH=1)")
        pytest.skip(message)
    return found


@contextlib.contextmanager
def running(argv: list[str], port: int, log: Path) -> Iterator[int]:
    """Start a server process, wait until its port accepts connections, stop it afterwards."""
    with log.open("wb") as out:
        process = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if process.poll() is not None:
                pytest.fail(f"{argv[0]} exited: {log.read_text()[-2000:]}")
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.1)
        else:
            pytest.fail(f"{argv[0]} did not listen on {port}: {log.read_text()[-2000:]}")
        yield port
    finally:
        process.terminate()
        try:
            process.wait(5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


def emulator(
    directory: Path, cert: tuple[Path, Path] | None = None,
) -> contextlib.AbstractContextManager[int]:
    """sushy-emulator with its fake driver (no libvirt), one powered-on system, Basic auth."""
    htpasswd = directory / "htpasswd"
    digest = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(rounds=4)).decode()
    htpasswd.write_text(f"{USER}:{digest}\n")
    config = directory / "emulator.conf"
    systems = [{"uuid": "27946b59-9e44-4fa7-8e91-f3527a1ef094", "name": "web-7",
                "power_state": "On", "nics": []}]
    config.write_text(
        f"SUSHY_EMULATOR_AUTH_FILE = {str(htpasswd)!r}\n"
        f"SUSHY_EMULATOR_STATE_DIR = {str(directory / 'state')!r}\n"
        f"SUSHY_EMULATOR_FAKE_SYSTEMS = {systems!r}\n"
    )
    port = free_port()
    argv = [tool("sushy-emulator"), "--fake", "--config", str(config),
            "-i", "127.0.0.1", "-p", str(port)]
    if cert is not None:
        argv += ["--ssl-certificate", str(cert[0]), "--ssl-key", str(cert[1])]
    return running(argv, port, directory / f"emulator-{port}.log")


def _write(root: Path, path: str, doc: dict) -> None:
    target = root / path / "index.json"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(doc))


def ailing_server_mockup(root: Path) -> Path:
    """A DMTF-style mockup: a system in Warning, a hot inlet, a dead fan and a failed PSU."""
    base = "/redfish/v1"
    _write(root, "", {"@odata.id": base + "/", "Systems": {"@odata.id": base + "/Systems"},
                      "Chassis": {"@odata.id": base + "/Chassis"}})
    _write(root, "Systems", {"Members": [{"@odata.id": base + "/Systems/db-3"}]})
    _write(root, "Systems/db-3", {"Id": "db-3", "Name": "db-3", "PowerState": "On",
                                  "Status": {"State": "Enabled", "Health": "Warning",
                                             "HealthRollup": "Warning"}})
    _write(root, "Chassis", {"Members": [{"@odata.id": base + "/Chassis/1U"}]})
    _write(root, "Chassis/1U", {
        "Id": "1U", "Name": "1U", "Status": {"State": "Enabled", "Health": "Critical"},
        "Thermal": {"@odata.id": base + "/Chassis/1U/Thermal"},
        "Power": {"@odata.id": base + "/Chassis/1U/Power"}})
    _write(root, "Chassis/1U/Thermal", {
        "Temperatures": [
            {"Name": "Inlet Temp", "ReadingCelsius": 43, "UpperThresholdNonCritical": 35,
             "UpperThresholdCritical": 42, "Status": {"State": "Enabled", "Health": "OK"}},
            {"Name": "CPU1 Temp", "ReadingCelsius": 61, "UpperThresholdNonCritical": 85,
             "Status": {"State": "Enabled", "Health": "OK"}},
        ],
        "Fans": [
            {"Name": "Fan 1", "Reading": 0, "ReadingUnits": "RPM", "LowerThresholdCritical": 500,
             "Status": {"State": "Enabled", "Health": "Critical"}},
            {"Name": "Fan 2", "Reading": 8400, "ReadingUnits": "RPM",
             "Status": {"State": "Enabled", "Health": "OK"}},
            {"Name": "Fan 3", "Status": {"State": "Absent"}},
        ]})
    _write(root, "Chassis/1U/Power", {
        "PowerSupplies": [
            {"Name": "PSU 1", "Status": {"State": "Enabled", "Health": "OK"}},
            {"Name": "PSU 2", "Status": {"State": "Enabled", "Health": "Critical"}},
            {"Name": "PSU 3", "Status": {"State": "Absent"}},
        ],
        "PowerControl": [{"PowerConsumedWatts": 352}]})
    return root


def subsystem_server_mockup(root: Path) -> Path:
    """A newer BMC (Redfish 2020.4+): ThermalSubsystem and PowerSubsystem, no Thermal/Power."""
    base = "/redfish/v1"
    chassis = base + "/Chassis/Blade"
    _write(root, "", {"Chassis": {"@odata.id": base + "/Chassis"}})
    _write(root, "Chassis", {"Members": [{"@odata.id": chassis}]})
    _write(root, "Chassis/Blade", {
        "Id": "Blade", "Status": {"State": "Enabled", "Health": "Warning"},
        "ThermalSubsystem": {"@odata.id": chassis + "/ThermalSubsystem"},
        "PowerSubsystem": {"@odata.id": chassis + "/PowerSubsystem"}})
    _write(root, "Chassis/Blade/ThermalSubsystem", {
        "Fans": {"@odata.id": chassis + "/ThermalSubsystem/Fans"},
        "ThermalMetrics": {"@odata.id": chassis + "/ThermalSubsystem/ThermalMetrics"}})
    _write(root, "Chassis/Blade/ThermalSubsystem/Fans", {"Members": [
        {"@odata.id": chassis + "/ThermalSubsystem/Fans/1"},
        {"@odata.id": chassis + "/ThermalSubsystem/Fans/2"}]})
    _write(root, "Chassis/Blade/ThermalSubsystem/Fans/1", {
        "Name": "Fan 1", "SpeedPercent": {"Reading": 41},
        "Status": {"State": "Enabled", "Health": "OK"}})
    _write(root, "Chassis/Blade/ThermalSubsystem/Fans/2", {
        "Name": "Fan 2", "SpeedPercent": {"Reading": 0},
        "Status": {"State": "Enabled", "Health": "Warning"}})
    _write(root, "Chassis/Blade/ThermalSubsystem/ThermalMetrics", {
        "TemperatureReadingsCelsius": [
            {"DataSourceUri": chassis + "/Sensors/Intake", "Reading": 23.5}]})
    _write(root, "Chassis/Blade/PowerSubsystem", {
        "PowerSupplies": {"@odata.id": chassis + "/PowerSubsystem/PowerSupplies"}})
    _write(root, "Chassis/Blade/PowerSubsystem/PowerSupplies", {"Members": [
        {"@odata.id": chassis + "/PowerSubsystem/PowerSupplies/1"}]})
    _write(root, "Chassis/Blade/PowerSubsystem/PowerSupplies/1", {
        "Name": "PSU A", "Status": {"State": "Enabled", "Health": "OK"}})
    return root


def static(directory: Path, newer: bool = False) -> contextlib.AbstractContextManager[int]:
    port = free_port()
    build = subsystem_server_mockup if newer else ailing_server_mockup
    mockup = build(directory / "mockup")
    return running([tool("sushy-static"), "-i", "127.0.0.1", "-p", str(port),
                    "-m", str(mockup)], port, directory / f"static-{port}.log")
