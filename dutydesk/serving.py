"""Web server and scheduler in one process (``dutydesk serve`` and the demo)."""

from __future__ import annotations

import signal
from collections.abc import Callable
from typing import Any

import click

from dutydesk import __version__
from dutydesk.cli_common import _database
from dutydesk.core.config import Settings


def _run_forever(stop: Callable[[], None]) -> None:
    def _handler(signum: int, _frame: Any) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _handler)
    try:
        signal.pause()
    except KeyboardInterrupt:
        pass
    finally:
        stop()


def serve_app(settings: Settings, host: str, port: int, *, with_worker: bool = True) -> None:
    """Web server and scheduler in one process (small sites, the demo)."""
    from werkzeug.serving import make_server

    from dutydesk.app import create_app
    from dutydesk.worker import Worker

    database = _database(settings)
    app = create_app(settings, db=database)
    # The worker's metrics (check engine, muted alerts, heartbeat age) join the app's /metrics.
    registry = app.extensions["dutydesk"].metrics.registry
    worker = Worker(settings, database, registry) if with_worker else None
    try:
        server = make_server(host, port, app, threaded=True)
    except OSError as exc:
        raise click.ClickException(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    if worker is not None:
        worker.start()
    click.echo(f"DutyDesk {__version__} serving on http://{host}:{port} (Ctrl+C to stop)")

    def _stop(signum: int, _frame: Any) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _stop)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        if worker is not None:
            worker.stop()
        database.dispose()
