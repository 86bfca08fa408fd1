"""Serve the app in its own process (for tests that stop the server with SIGSTOP).

Usage: ``python serve_wall.py '<settings as JSON>'``; prints ``listening <port>`` once ready.
"""

from __future__ import annotations

import json
import sys

from werkzeug.serving import make_server

from dutydesk.app import create_app
from dutydesk.core.config import load_settings


def main() -> None:
    settings = load_settings(json.loads(sys.argv[1]), environ={})
    server = make_server("127.0.0.1", 0, create_app(settings), threaded=True)
    print(f"listening {server.server_port}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
