"""The demo data center as checks-as-code: two halls, UPSes, sensors, core switches, services.

Built as the same YAML an operator would write (``dutydesk checks apply``), pointing at the
simulated targets on 127.0.0.1, so the demo exercises the real config path and the real engine.
"""

from __future__ import annotations

import os
import shlex
import sys
from pathlib import Path
from typing import Any

import yaml

from dutydesk.demo.modbus_site import SENSOR_MAP
from dutydesk.demo.remote_site import remote_checks
from dutydesk.demo.targets import DemoTargets

HEARTBEAT_KEY = "demo-backup-job"


#: The simulated devices' plugin, installed in the demo's own plugin directory: plugin checks
#: name a plugin in ``plugin_dirs``, never a path or an interpreter.
DEVICE_PLUGIN = "dutydesk-demo-device"


def install_device_plugin(plugin_dir: Path) -> Path:
    """Write the demo device plugin (a tiny sh wrapper around ``dutydesk.demo.device``) into
    ``plugin_dir`` and return the directory, readable by all (plugins may run as nobody)."""
    plugin_dir.mkdir(parents=True, exist_ok=True)
    plugin_dir.chmod(0o755)
    source_root = Path(__file__).resolve().parents[2]
    plugin = plugin_dir / DEVICE_PLUGIN
    plugin.write_text(
        "#!/bin/sh\n"
        f"PYTHONPATH={shlex.quote(str(source_root))} "
        f"exec {shlex.quote(sys.executable)} -m dutydesk.demo.device \"$@\"\n"
    )
    os.chmod(plugin, 0o755)
    return plugin_dir


def _device(kind: str, name: str, **options: Any) -> list[str]:
    argv = [DEVICE_PLUGIN, kind, "--name", name]
    for key, value in options.items():
        argv += [f"--{key.replace('_', '-')}", str(value)]
    return argv


def _modbus(name: str, display: str, group: str, targets: DemoTargets, unit_id: int,
            points: list[dict[str, Any]], **policy: Any) -> dict[str, Any]:
    """A check of one unit of the demo's Modbus gateway (as an operator would write it)."""
    return {"name": name, "display_name": display, "type": "modbus", "group": group, **policy,
            "spec": {"host": "127.0.0.1", "port": targets.modbus_port, "unit_id": unit_id,
                     "timeout": "2s", "points": points}}


def _snmp_ups(name: str, display: str, group: str, targets: DemoTargets,
              **policy: Any) -> dict[str, Any]:
    """A UPS-MIB check of one UPS of the demo's SNMP agent (the community names the UPS)."""
    return {"name": name, "display_name": display, "type": "snmp", "group": group, **policy,
            "spec": {"host": "127.0.0.1", "port": targets.snmp_port, "version": "2c",
                     "community": name, "timeout": "2s", "profile": "ups"}}


def demo_checks_yaml(targets: DemoTargets) -> str:
    """The demo's checks file (what ``dutydesk checks export`` would print for it)."""
    web = {
        "mail": ("Mail (Exchange OWA)", "Mail", "Services / Mail"),
        "1c": ("1C:Enterprise", "1C", "Services / Business apps"),
        "fileshare": ("File share", "File share", "Services / Files"),
        "vpn": ("VPN gateway", "VPN", "Services / Remote access"),
        "intranet": ("Intranet portal", "Intranet", "Services / Web"),
        "bms": ("Building management (BMS)", "Power in hall A", "Hall A / BMS"),
    }
    checks: list[dict[str, Any]] = []
    for name, (display, service, group) in web.items():
        checks.append(
            {
                "name": f"http-{name}",
                "display_name": display,
                "type": "http",
                "group": group,
                "service": service,
                "interval": "10s",
                "retry_interval": "5s",
                "max_attempts": 2,
                "spec": {
                    "url": targets.url(name),
                    "conditions": ["status == 200", 'json $.state == "up"'],
                },
                "parents": ["core-sw-a"],
            }
        )
    checks += remote_checks(targets)
    checks += [
        {
            "name": "core-sw-a",
            "display_name": "Core switch A",
            "type": "snmp",
            "group": "Core / Switches",
            "interval": "15s",
            "max_attempts": 2,
            "impact": 1,
            "spec": {"host": "127.0.0.1", "port": targets.snmp_port, "version": "2c",
                     "community": "core-sw-a", "timeout": "2s", "profile": "interfaces"},
        },
        {
            "name": "core-sw-b",
            "display_name": "Core switch B",
            "type": "snmp",
            "group": "Core / Switches",
            "interval": "15s",
            "max_attempts": 2,
            "impact": 1,
            "spec": {"host": "127.0.0.1", "port": targets.snmp_port, "version": "2c",
                     "community": "core-sw-b", "timeout": "2s", "profile": "interfaces"},
        },
        _snmp_ups("ups-a", "UPS A (hall A)", "Hall A / UPS", targets,
                  interval="10s", max_attempts=2, impact=1, service="Power in hall A"),
        _snmp_ups("ups-b", "UPS B (hall B)", "Hall B / UPS", targets,
                  interval="10s", max_attempts=2, impact=1, service="Power in hall B"),
        _modbus("temp-hall-a", "Hall A cold aisle temperature", "Hall A / Sensors", targets, 3,
                SENSOR_MAP, interval="20s", max_attempts=3),
        _modbus("temp-hall-b", "Hall B cold aisle temperature", "Hall B / Sensors", targets, 4,
                SENSOR_MAP, interval="20s", max_attempts=3, parents=["core-sw-b"]),
        {
            "name": "smtp-relay",
            "display_name": "SMTP relay",
            "type": "tcp",
            "group": "Services / Mail",
            "service": "Mail",
            "interval": "15s",
            "max_attempts": 2,
            "spec": {"host": "127.0.0.1", "port": targets.tcp_ports["smtp-relay"], "expect": "220"},
            "parents": ["core-sw-a"],
        },
        {
            "name": "backup-nightly",
            "display_name": "Nightly backup job (heartbeat)",
            "type": "heartbeat",
            "group": "Services / Files",
            "service": "File share",
            "heartbeat_key": HEARTBEAT_KEY,
            "interval": "10s",
            "max_attempts": 1,
            "spec": {"period": "30s", "grace": "15s"},
        },
    ]
    maintenance = [
        {
            "name": "Hall A BMS firmware (Sundays)",
            "group": "Hall A / BMS",
            "kind": "weekly",
            "zone": "Europe/Kyiv",
            "weekdays": ["sun"],
            "start_time": "02:00",
            "duration": "2h",
        }
    ]
    return yaml.safe_dump(
        {"checks": checks, "maintenance": maintenance}, sort_keys=False, allow_unicode=True
    )
