"""A real SNMP agent on 127.0.0.1 for the SNMP tests: snmpsim serving tests/checks/data/snmp.

snmpsim (``pip install snmpsim``, 1.x on pysnmp 7) answers from ``.snmprec`` recordings. Each
file is one device: its name is the SNMPv2c community and the SNMPv3 context name
(``ups-on-battery.snmprec`` → community ``ups-on-battery``). The agent binds UDP port 0; we learn
the port the kernel gave it from /proc (Linux), so parallel runs never collide.

snmpsim refuses to run as root unless told to drop privileges; test containers often run as
root with the interpreter under /root, which an unprivileged user cannot read, so we set
``SNMPSIM_ALLOW_ROOT=true`` (snmpsim's own switch) instead.
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Coroutine, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

from checks.probes.snmp import SnmpSpec, probe
from checks.result import Result
from checks.snmp.transport import SnmpClient

T = TypeVar("T")

DATA_DIR = Path(__file__).parent / "data" / "snmp"


@dataclass(frozen=True)
class V3User:
    name: str
    auth_protocol: str  # snmpsim names: MD5, SHA, ...
    auth_key: str | None
    priv_protocol: str | None  # DES, AES, ...
    priv_key: str | None

    @property
    def security_level(self) -> str:
        if self.auth_key is None:
            return "noAuthNoPriv"
        return "authPriv" if self.priv_key else "authNoPriv"


V3_USERS = (
    V3User("duty-sha-aes", "SHA", "shift-lead-auth-1", "AES", "shift-lead-priv-1"),
    V3User("duty-md5-des", "MD5", "legacy-auth-key-2", "DES", "legacy-priv-key-2"),
    V3User("duty-sha-auth", "SHA", "auth-only-key-3", None, None),
)


@dataclass(frozen=True)
class SnmpAgent:
    host: str
    port: int
    users: tuple[V3User, ...]

    def user(self, name: str) -> V3User:
        return next(u for u in self.users if u.name == name)


def _command(data_dir: Path, cache_dir: str, users: tuple[V3User, ...]) -> list[str]:
    args = [
        f"--cache-dir={cache_dir}",
        "--v3-engine-id=auto",
        f"--data-dir={data_dir}",
        "--agent-udpv4-endpoint=127.0.0.1:0",
    ]
    for user in users:
        args.append(f"--v3-user={user.name}")
        if user.auth_key:
            args += [f"--v3-auth-key={user.auth_key}", f"--v3-auth-proto={user.auth_protocol}"]
        if user.priv_key:
            args += [f"--v3-priv-key={user.priv_key}", f"--v3-priv-proto={user.priv_protocol}"]
    launcher = "import sys; from snmpsim.commands.responder import main; sys.exit(main())"
    return [sys.executable, "-c", launcher, *args]


def udp_ports_of(pid: int) -> set[int]:
    """UDP ports the process has bound, matched through socket inodes in /proc."""
    inodes = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            link = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if link.startswith("socket:["):
            inodes.add(link[len("socket:[") : -1])
    ports = set()
    with open(f"/proc/{pid}/net/udp") as table:
        next(table)
        for line in table:
            fields = line.split()
            if fields[9] in inodes:
                ports.add(int(fields[1].split(":")[1], 16))
    return ports


@contextmanager
def running_snmpsim(
    data_dir: Path = DATA_DIR, users: tuple[V3User, ...] = V3_USERS, startup_timeout: float = 30
) -> Iterator[SnmpAgent]:
    """Start snmpsim on 127.0.0.1:<free port>, yield where it listens, stop it afterwards."""
    with tempfile.TemporaryDirectory(prefix="snmpsim-") as cache_dir:
        log_path = Path(cache_dir) / "snmpsim.log"
        env = {**os.environ, "SNMPSIM_ALLOW_ROOT": "true"}
        with open(log_path, "w") as log:
            process = subprocess.Popen(
                _command(data_dir, cache_dir, users), stdout=log, stderr=subprocess.STDOUT,
                env=env,
            )
        try:
            port = _wait_for_port(process, log_path, startup_timeout)
            yield SnmpAgent("127.0.0.1", port, users)
        finally:
            process.terminate()
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _wait_for_port(process: subprocess.Popen[bytes], log_path: Path, timeout: float) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"snmpsim exited with {process.returncode}:\n{log_path.read_text()}")
        # snmpsim binds its endpoint after indexing the data files, right before serving
        if "Listening at UDP/IPv4 endpoint" in log_path.read_text():
            ports = udp_ports_of(process.pid)
            if ports:
                return min(ports)
        time.sleep(0.05)
    raise RuntimeError(f"snmpsim did not start within {timeout} s:\n{log_path.read_text()}")


@contextmanager
def silent_udp_port() -> Iterator[int]:
    """A UDP port on 127.0.0.1 that receives requests and never answers (a hung agent)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    try:
        yield sock.getsockname()[1]
    finally:
        sock.close()


class ProbeRunner:
    """Runs probes on one background event loop with one shared SnmpClient, as the poller does.

    A pysnmp engine is bound to the loop it was created on and costs ~0.1 s to build, so tests
    share one loop and one client instead of paying that in every ``asyncio.run``.
    """

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.client = SnmpClient()

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 60) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def probe(self, spec: dict[str, Any], now: datetime, previous: Result | None = None) -> Result:
        return self.run(probe(SnmpSpec.from_dict(spec), now, self.client, previous=previous))

    def close(self) -> None:
        async def shut() -> None:
            self.client.close()

        self.run(shut())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
        self.loop.close()
