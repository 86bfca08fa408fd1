"""Simulated local targets the demo's checks probe: web services (one flaps), a TCP port, and a
Modbus TCP gateway with the aisle sensors (``dutydesk.demo.modbus_site``) and the SNMP agent of
the UPSes (``dutydesk.demo.snmp_ups``).

Each target is a real server on 127.0.0.1 on a free port, in a daemon thread, so the check engine
probes them exactly as it would probe real equipment.
"""

from __future__ import annotations

import json
import socket
import socketserver
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class HttpService:
    """A fake internal web service. ``flap_period`` > 0 makes it alternate up/down."""

    name: str
    flap_period: float = 0.0
    down: bool = False
    slow_seconds: float = 0.0
    port: int = 0
    started: float = field(default_factory=time.monotonic)

    def healthy(self) -> bool:
        if self.down:
            return False
        if self.flap_period > 0:
            return int((time.monotonic() - self.started) / self.flap_period) % 2 == 0
        return True


def _handler_for(service: HttpService) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if service.slow_seconds:
                time.sleep(service.slow_seconds)
            up = service.healthy()
            body = json.dumps({"service": service.name, "state": "up" if up else "down"}).encode()
            self.send_response(200 if up else 503)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_args: Any) -> None:
            pass

    return Handler


class _TcpBanner(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        self.request.sendall(b"220 demo-smtp ESMTP ready\r\n")


@dataclass
class DemoTargets:
    """All running demo targets; ``stop()`` shuts them down."""

    http: dict[str, HttpService] = field(default_factory=dict)
    tcp_ports: dict[str, int] = field(default_factory=dict)
    modbus_port: int = 0
    snmp_port: int = 0
    _servers: list[Any] = field(default_factory=list)
    _modbus: Any = None
    _snmp: Any = None

    def url(self, name: str, path: str = "/health") -> str:
        return f"http://127.0.0.1:{self.http[name].port}{path}"

    def stop(self) -> None:
        if self._modbus is not None:
            self._modbus.stop()
        if self._snmp is not None:
            self._snmp.stop()
        for server in self._servers:
            server.shutdown()
            server.server_close()


def start_targets(services: list[HttpService], tcp_names: list[str]) -> DemoTargets:
    targets = DemoTargets()
    for service in services:
        server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(service))
        server.daemon_threads = True
        service.port = server.server_address[1]
        threading.Thread(
            target=server.serve_forever, daemon=True, name=f"demo-{service.name}"
        ).start()
        targets.http[service.name] = service
        targets._servers.append(server)
    for name in tcp_names:
        server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _TcpBanner)
        server.daemon_threads = True
        targets.tcp_ports[name] = server.server_address[1]
        threading.Thread(target=server.serve_forever, daemon=True, name=f"demo-{name}").start()
        targets._servers.append(server)
    from dutydesk.demo.modbus_site import ModbusSite

    targets._modbus = ModbusSite().start()
    targets.modbus_port = targets._modbus.port
    from dutydesk.demo.snmp_ups import SnmpUpsAgent

    targets._snmp = SnmpUpsAgent().start()
    targets.snmp_port = targets._snmp.port
    return targets


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
