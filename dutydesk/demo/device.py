"""A simulated data-center device, run as a Nagios plugin by the demo's checks.

``python -m dutydesk.demo.device ups --name "UPS B" --battery-every 600`` prints a plugin line with
performance data and exits 0/1/2 like a real ``check_ups``. Values follow the clock, so the demo
lives: UPS B drops to battery for a minute every ten minutes, hall B warms up in the afternoon
sun, a core switch port goes down now and then.
"""

from __future__ import annotations

import argparse
import math
import sys
import time

OK, WARNING, CRITICAL = 0, 1, 2


def ups(name: str, battery_every: int, now: float) -> tuple[int, str]:
    on_battery = battery_every > 0 and (now % battery_every) < 60
    load = 38 + 6 * math.sin(now / 900)
    if on_battery:
        runtime = 31 - (now % battery_every) / 10
        return CRITICAL, (
            f"{name}: ON BATTERY, input power lost, {runtime:.0f} min remaining"
            f"|load={load:.0f}%;80;90;0;100 runtime={runtime:.0f}min;15;5 input_voltage=0V"
        )
    return OK, (
        f"{name}: on line, load {load:.0f}%, battery charged"
        f"|load={load:.0f}%;80;90;0;100 runtime=42min;15;5 input_voltage=229V"
    )


def temperature(name: str, base: float, swing: float, now: float) -> tuple[int, str]:
    value = base + swing * math.sin(now / 420)
    status = CRITICAL if value > 30 else WARNING if value > 27 else OK
    label = "CRITICAL" if status == CRITICAL else "WARNING" if status == WARNING else "OK"
    return status, f"{label}: {name} {value:.1f} °C|temperature={value:.1f};27;30"


def switch_port(name: str, flap_every: int, now: float) -> tuple[int, str]:
    down = flap_every > 0 and (now % flap_every) < 90
    if down:
        return CRITICAL, f"{name}: Te1/0/48 admin up but oper down (uplink to hall B)"
    return OK, f"{name}: 48/48 ports as configured, 0 errors/min|errors=0"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="dutydesk-demo-device")
    parser.add_argument("kind", choices=["ups", "temperature", "switch"])
    parser.add_argument("--name", required=True)
    parser.add_argument("--battery-every", type=int, default=0)
    parser.add_argument("--base", type=float, default=23.0)
    parser.add_argument("--swing", type=float, default=1.0)
    parser.add_argument("--flap-every", type=int, default=0)
    args = parser.parse_args(argv)
    now = time.time()
    if args.kind == "ups":
        status, line = ups(args.name, args.battery_every, now)
    elif args.kind == "temperature":
        status, line = temperature(args.name, args.base, args.swing, now)
    else:
        status, line = switch_port(args.name, args.flap_every, now)
    print(line)
    return status


if __name__ == "__main__":
    sys.exit(main())
