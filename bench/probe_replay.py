"""A probe's 1-hour backlog replayed to the centre: 1,000 checks every 10 s for an hour (360,000
results) waiting in the probe's buffer when the link comes back; target: all acknowledged in
under 2 minutes.

    .venv/bin/python bench/probe_replay.py [--checks 1000] [--interval 10] [--hours 1]
        [--workers 2]

Real parts (``bench/probe_rig.py``): a fresh PostgreSQL database, the centre as ``dutydesk web``
(gunicorn, ``--workers`` processes), a loopback HTTP target and ``dutydesk probe``. The probe's
buffer file is filled first through :mod:`dutydesk.sites.buffer` (``add_many``) with the
results the probe would have made during the hour (every 50th check down for a minute in the
middle, so flips are judged too). Then the centre starts (and answers a few requests, so its
workers are up), then the probe; the clock runs from the moment the probe is up and enrolled
(its ``/metrics`` port opens: the link is back) until the centre's ``last_seq`` reaches the
last buffered result (the first pull of checks included). The probe's own start-up time is
printed apart. The probe keeps running its checks meanwhile (100/s), as it would.
Prints the time, results/s, the CPU of the probe, the centre and PostgreSQL, and the load.

Measured 2026-12-07 on 2 cores SHARED with other engineers' test runs, PostgreSQL 15, the
centre (2 gunicorn workers), the probe and the target all on those 2 cores:

  after the ingest changes only (batch 5000, sent without decoding), load 4.1-4.7:
      360,000 in 219.3 s = 1,641 results/s; CPU 340 us per result (probe 51, centre 215,
      PostgreSQL 74)
  final (next batch read while one is in flight, no NUL walk of the body), load 5.3-5.6:
      360,000 in 202.5 s = 1,778 results/s (MISSED: target under 120 s); CPU 313 us per result
      (probe 54 incl. its 100 checks/s, centre 186, PostgreSQL 73); the probe took 5.5 s
      to start and enrol before the clock started
  the same code at load 4.3 ran at 2,700 results/s for its first 20 s, then fell to 1,600/s
  as the load rose to 8.4 (226.5 s in all).

The replay is one chain (a probe's batches are stored one after the other, by design): the
centre and PostgreSQL spend ~260 us per result on it, i.e. about 3,800 results/s (95 s for the
hour) when one core is theirs; on this machine they got about half of one.

Measured 2026-12-08 on the same 2 cores with nothing else running (load 1.1-1.2):
  360,000 in 53.3 s = 6,755 results/s (target under 120 s: MET); 163 us CPU per result (probe
      6.5 s, centre 36.7 s, PostgreSQL 15.5 s in all); the probe took 1.1 s to start and enrol.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import probe_rig as rig


def fill(buffer_path: Path, ids: list[int], interval: float, hours: float) -> int:
    """The hour's results into the probe's buffer; returns the last sequence number."""
    from dutydesk.sites.buffer import Buffer

    buffer = Buffer(str(buffer_path), max_results=10_000_000)
    rounds = int(hours * 3600 / interval)
    start = time.time() - rounds * interval
    down = range(rounds // 2, rounds // 2 + max(1, int(60 / interval)))
    last = 0
    for r in range(rounds):
        items = []
        for n, cid in enumerate(ids):
            made = start + r * interval + (n % 1000) / 1000 * interval
            failing = n % 50 == 0 and r in down
            items.append(({"check_id": cid, "status": "CRITICAL" if failing else "OK",
                           "message": "connection refused" if failing else "HTTP 200 OK",
                           "started_at": datetime.fromtimestamp(made - 0.002, UTC).isoformat(),
                           "duration": 0.002, "metrics": {"response_time": 0.002}}, made))
        last = buffer.add_many(items)[-1]
    buffer.close()
    return last


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--checks", type=int, default=1000)
    parser.add_argument("--interval", type=float, default=10.0)
    parser.add_argument("--hours", type=float, default=1.0)
    parser.add_argument("--workers", type=int, default=2, help="the centre's gunicorn workers")
    args = parser.parse_args()

    from sqlalchemy import create_engine, text

    work = Path(tempfile.mkdtemp(prefix="probe-replay-"))
    with rig.fresh_database() as url, rig.Target() as target:
        probe_id, token, ids = rig.make_probe(url, "replay", args.checks, args.interval,
                                              [target.port])
        state = work / "probe"
        began = time.perf_counter()
        last_seq = fill(state / "probe.sqlite", ids, args.interval, args.hours)
        print(f"buffer filled: {last_seq:,} results ({args.checks} checks every "
              f"{args.interval:g} s for {args.hours:g} h) in {time.perf_counter() - began:.1f} s; "
              f"{(state / 'probe.sqlite').stat().st_size / 2**20:.0f} MiB")
        engine = create_engine(url)
        centre, server = rig.centre(url, work, workers=args.workers)
        rig.warm(server, args.workers)
        metrics_port = rig.free_port()
        agent = rig.probe(server, state, token, metrics_port)
        try:
            with engine.connect() as conn:
                pg_pids = lambda: [  # noqa: E731
                    row[0] for row in conn.execute(text(
                        "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                        "AND pid <> pg_backend_pid()"))]
                cpu0 = {"centre": rig.cpu_seconds(centre.pids)}
                load0 = rig.loadavg()
                started = time.perf_counter()
                agent.start()
                rig.wait_port(metrics_port, 120)  # started, enrolled: the link is "back"
                t0 = time.perf_counter()
                seen_pg: dict[int, float] = {}
                acked, next_report = 0, 10.0
                while acked < last_seq:
                    time.sleep(0.5)
                    acked = conn.execute(text("SELECT last_seq FROM probes WHERE id = :p"),
                                         {"p": probe_id}).scalar_one()
                    conn.commit()
                    for pid in pg_pids():
                        seen_pg[pid] = rig.cpu_seconds([pid])
                    elapsed = time.perf_counter() - t0
                    if elapsed >= next_report:
                        print(f"  {elapsed:5.0f} s  {min(acked, last_seq):>9,} acknowledged "
                              f"({min(acked, last_seq) / elapsed:,.0f}/s)")
                        next_report += 10
                    if elapsed > 1800 or agent.proc.poll() is not None:
                        raise SystemExit(f"gave up: {acked:,} of {last_seq:,} after "
                                         f"{elapsed:.0f} s; see {agent.log}")
                elapsed = time.perf_counter() - t0
                probe_cpu = rig.cpu_seconds(agent.pids)
                centre_cpu = rig.cpu_seconds(centre.pids) - cpu0["centre"]
                pg_cpu = sum(seen_pg.values())
        finally:
            agent.stop()
            centre.stop()
            engine.dispose()
    verdict = "MET" if elapsed < 120 else "MISSED"
    print(f"replayed      {last_seq:,} results in {elapsed:.1f} s = {last_seq / elapsed:,.0f} "
          f"results/s (target: under 120 s: {verdict}); the probe process took "
          f"{t0 - started:.1f} s to start and enrol before that")
    print(f"CPU           probe {probe_cpu:.1f} s, centre ({args.workers} gunicorn workers) "
          f"{centre_cpu:.1f} s, PostgreSQL backends {pg_cpu:.1f} s (upper bound: their whole "
          f"life); {1e6 * (probe_cpu + centre_cpu + pg_cpu) / last_seq:,.0f} us per result")
    print(f"load average  {load0} at the start, {rig.loadavg()} at the end (2 cores, shared)")
    print(f"logs in {work}")


if __name__ == "__main__":
    main()
