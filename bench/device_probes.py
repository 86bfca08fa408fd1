"""Device probes on loopback: how many Modbus polls per second one event loop sustains, and
what one IPMI run costs (a helper process per run).

    .venv/bin/python bench/device_probes.py [--duration 10] [--concurrency 50] [--points 20]
        [--ipmi-runs 5]

1. Modbus: a pymodbus server (the demo's gateway shape: one unit, ``--points`` holding registers)
   on 127.0.0.1; ``--concurrency`` probes at a time for ``--duration`` s; prints polls/s, the
   median and p95 duration, and this process's CPU per poll.
2. IPMI (when ``ipmi_sim`` is installed): ``--ipmi-runs`` runs against OpenIPMI's simulator,
   the first reading the sensor repository, the rest using the on-disk SDR cache.

Not part of pytest; figures vary with the machine and its load.
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import shutil
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from checks.probes import build_spec, run_probe
from checks.result import Status
from dutydesk.demo.modbus_site import ModbusSite, Unit


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def _modbus(port: int, points: int, duration: float, concurrency: int) -> None:
    spec = build_spec("modbus", {
        "host": "127.0.0.1", "port": port, "unit_id": 1,
        "points": [{"name": f"p{i}", "address": i, "crit": "~:60000"} for i in range(points)]})
    durations: list[float] = []
    failures = 0
    deadline = time.monotonic() + duration

    async def worker() -> None:
        nonlocal failures
        while time.monotonic() < deadline:
            result = await run_probe("modbus", spec, datetime.now(UTC), timeout=5)
            durations.append(result.duration)
            failures += result.status is not Status.OK

    cpu, started = _cpu(), time.monotonic()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed, cpu = time.monotonic() - started, _cpu() - cpu
    ordered = sorted(durations)
    print(f"modbus: {len(durations) / elapsed:,.0f} polls/s of {points} registers "
          f"({concurrency} at a time, {elapsed:.1f} s), {failures} not OK; "
          f"duration median {statistics.median(ordered) * 1000:.1f} ms, "
          f"p95 {ordered[int(len(ordered) * 0.95)] * 1000:.1f} ms; "
          f"CPU {cpu / max(1, len(durations)) * 1000:.2f} ms per poll")


def _ipmi(runs: int) -> None:
    if shutil.which("ipmi_sim") is None:
        print("ipmi: skipped (apt-get install openipmi)")
        return
    from tests.checks import ipmi_bmc  # the tests' simulator config: lan.conf, SDRs

    with ipmi_bmc.ipmi_sim(Path(tempfile.mkdtemp())) as port:
        spec = build_spec("ipmi", {"host": "127.0.0.1", "port": port,
                                   "username": ipmi_bmc.USER, "password": ipmi_bmc.PASSWORD})
        times = []
        for _ in range(runs):
            result = asyncio.run(run_probe("ipmi", spec, datetime.now(UTC), timeout=60))
            times.append(result.duration)
    print(f"ipmi: first run {times[0]:.2f} s (reads the SDR), then median "
          f"{statistics.median(times[1:] or times):.2f} s per run ({runs} runs)")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--points", type=int, default=20)
    parser.add_argument("--ipmi-runs", type=int, default=5)
    args = parser.parse_args()
    site = ModbusSite((Unit(1, lambda now: list(range(args.points))),)).start()
    try:
        asyncio.run(_modbus(site.port, args.points, args.duration, args.concurrency))
    finally:
        site.stop()
    _ipmi(args.ipmi_runs)


if __name__ == "__main__":
    main()
