"""Our own Prometheus metrics on a dedicated registry (namespace ``dutydesk_``)."""

from __future__ import annotations

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

from dutydesk import __version__


class Metrics:
    """Holds the registry and the app shell's metrics; domain modules add theirs to ``registry``."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.build_info = Gauge(
            "dutydesk_build_info", "DutyDesk version", ["version"], registry=self.registry
        )
        self.build_info.labels(__version__).set(1)
        self.http_requests = Counter(
            "dutydesk_http_requests_total",
            "HTTP requests served",
            ["method", "endpoint", "status"],
            registry=self.registry,
        )
        self.http_duration = Histogram(
            "dutydesk_http_request_duration_seconds",
            "Time to serve an HTTP request",
            ["endpoint"],
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
            registry=self.registry,
        )
        self.login_failures = Counter(
            "dutydesk_login_failures_total", "Failed password logins", registry=self.registry
        )
        self.login_throttled = Counter(
            "dutydesk_login_throttled_total",
            "Login attempts refused by throttling",
            registry=self.registry,
        )

    def render(self) -> bytes:
        return generate_latest(self.registry)
