"""A real centre (the app on a loopback port, stoppable and restartable on the same port) and
real probe processes (``python -m dutydesk probe``) for the remote-probe tests."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from werkzeug.serving import make_server


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Centre:
    """The app served on 127.0.0.1:port; ``stop()`` cuts the link, ``start()`` restores it.
    ``answer_delay`` holds every answer to a result push that long after it was stored."""

    def __init__(self, app: Any, host: str = "127.0.0.1") -> None:
        self.app = app
        self.host = host
        self.port = free_port()
        self.answer_delay = 0.0
        self.pushes_stored = threading.Event()
        self.replayed = 0  # results the centre was sent again and did not store again
        self._server: Any = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def _wsgi(self, environ: dict[str, Any], start_response: Any) -> Any:
        body = b"".join(self.app(environ, start_response))
        if environ.get("PATH_INFO", "").endswith("/results"):
            with contextlib.suppress(ValueError):
                self.replayed += int(json.loads(body).get("replayed", 0))
        if environ.get("PATH_INFO", "").endswith("/results") and self.answer_delay:
            self.pushes_stored.set()
            time.sleep(self.answer_delay)
        return [body]

    def start(self) -> None:
        deadline = time.monotonic() + 5
        while True:
            try:
                self._server = make_server(self.host, self.port, self._wsgi, threaded=True)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


class ProbeProcess:
    """``dutydesk probe`` in its own process, with intervals scaled down for tests."""

    def __init__(self, centre: Centre, state_dir: Path, token: str, site: str = "default",
                 prefix: tuple[str, ...] = (), **env: str) -> None:
        """``prefix``: run under it (``ip netns exec NAME``)."""
        self.args = [*prefix, sys.executable, "-m", "dutydesk", "probe", "--server", centre.url,
                     "--site", site, "--state-dir", str(state_dir), "--enrol-token", token]
        self.env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[3]),
                    "DUTYDESK_PROBE_PULL_INTERVAL": "0.5", "DUTYDESK_PROBE_PUSH_INTERVAL": "0.2",
                    "DUTYDESK_PROBE_MAX_BACKOFF": "0.4", "DUTYDESK_PROBE_TIME_SCALE": "0.06", **env}
        self.log = state_dir.parent / f"{state_dir.name}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen(self.args, env=self.env, stdout=out,
                                         stderr=subprocess.STDOUT)

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(10)

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


def wait_until(condition: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def probe_metrics(port: int) -> dict[str, float]:
    """The probe process's own ``/metrics`` (name -> value, labels left as they are)."""
    import urllib.request

    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    return {line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
            if line and not line.startswith("#")}


class CentreJobs:
    """The centre's worker jobs that matter here, every ``every`` seconds in a thread while the
    link is up or cut: the probe watcher ("probe offline") and the alert pipeline (flips ->
    incidents)."""

    def __init__(self, db: Any, settings: Any, every: float = 0.2) -> None:
        self.db, self.settings, self.every = db, settings, every
        self.errors: list[BaseException] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        from dutydesk.incidents.jobs import process_flips
        from dutydesk.sites.health import watch_probes

        while not self._stop.wait(self.every):
            try:
                watch_probes(self.db, self.settings)
                process_flips(self.db, self.settings)
            except Exception as exc:  # a job failing is a test failure, reported at the end
                self.errors.append(exc)

    def __enter__(self) -> CentreJobs:
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        self._thread.join(10)
        assert not self.errors, self.errors
