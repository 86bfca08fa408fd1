"""A real OpenID Provider for the sign-in tests: panva's ``oidc-provider`` (npm, pinned in
``tests/peers/oidc/package.json``) run by ``tests/peers/oidc/provider.mjs`` on a free loopback
port, and a small "browser" that walks its pages with real HTTP.

The browser is two halves: a ``requests`` session talks to the provider (its cookies, its
interaction pages: the development login accepts any password, the account is the login typed)
and the Flask test client talks to DutyDesk; a redirect to DutyDesk's base URL is handed from
the first to the second, as a browser would follow it.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import requests

PEER_DIR = Path(__file__).resolve().parents[1] / "peers" / "oidc"
CLIENT_ID = "dutydesk"
CLIENT_SECRET = "dutydesk-test-client-secret"
ACCOUNTS: dict[str, dict[str, Any]] = {
    "ivan": {"email": "ivan.oidc@corp.example", "name": "Ivan Oidc", "groups": ["dc-duty"],
             "locale": "uk-UA"},
    "olena": {"email": "olena.oidc@corp.example", "name": "Olena Oidc",
              "groups": ["staff", "DC-Leads"]},
    "stepan": {"email": "stepan.oidc@corp.example", "name": "Stepan Oidc", "groups": ["staff"]},
    # the email of a local break-glass admin: must never take that account over
    "mallory": {"email": "breakglass@dc.example", "name": "Mallory", "groups": ["dc-leads"]},
    "unverified": {"email": "someone@corp.example", "name": "Unverified",
                   "groups": ["dc-duty"], "email_verified": False},
}


def node_binary() -> str | None:
    return shutil.which("node")


def install() -> None:
    """``npm ci`` once; node_modules stays under tests/peers/oidc/ (git-ignored)."""
    if (PEER_DIR / "node_modules" / "oidc-provider" / "package.json").exists():
        return
    npm = shutil.which("npm")
    if npm is None:
        raise RuntimeError("npm is not installed")
    subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=PEER_DIR, check=True,
                   timeout=600, capture_output=True)


@dataclass
class OidcPeer:
    issuer: str
    accounts_file: Path
    process: subprocess.Popen[str]
    accounts: dict[str, dict[str, Any]] = field(default_factory=dict)
    output: list[str] = field(default_factory=list)

    def set_groups(self, login: str, groups: list[str]) -> None:
        self.accounts[login]["groups"] = groups
        self.accounts_file.write_text(json.dumps(self.accounts), encoding="utf-8")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()


def start_provider(folder: Path, port: int, app_base: str, backchannel: str = "") -> OidcPeer:
    install()
    accounts = json.loads(json.dumps(ACCOUNTS))
    accounts_file = folder / "accounts.json"
    accounts_file.write_text(json.dumps(accounts), encoding="utf-8")
    process = subprocess.Popen(
        [node_binary() or "node", str(PEER_DIR / "provider.mjs"), str(port),
         f"{app_base}/login/oidc/callback", f"{app_base}/login", str(accounts_file),
         *([backchannel] if backchannel else [])],
        cwd=PEER_DIR, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    assert process.stdout is not None
    deadline = time.monotonic() + 30
    seen = []
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        seen.append(line)
        if line.startswith("ready "):
            peer = OidcPeer(line.split()[1].strip(), accounts_file, process, accounts)
            # keep its output (a test may look at it) and never let it block on a full pipe
            import threading

            def drain(stream: Any = process.stdout, into: list[str] = peer.output) -> None:
                for text in stream:
                    into.append(text)

            threading.Thread(target=drain, daemon=True).start()
            return peer
    process.kill()
    raise RuntimeError("oidc-provider did not start:\n" + "".join(seen))


_FORM = re.compile(r'<form[^>]*action="([^"]+)"[^>]*>(.*?)</form>', re.S)
_HIDDEN = re.compile(r'<input[^>]*type="hidden"[^>]*name="([^"]+)"[^>]*value="([^"]*)"')


class Browser:
    """One person's browser: provider cookies in ``web``, DutyDesk cookies in ``client``."""

    def __init__(self, client: Any, app_base: str) -> None:
        self.client, self.app_base, self.web = client, app_base, requests.Session()

    def follow(self, url: str, login: str | None = None) -> Any:
        """Follow redirects and submit the provider's pages (login as ``login``, consent, logout
        confirmation) until DutyDesk answers; return DutyDesk's response (or the provider's
        page that has no form: "signed out", an error)."""
        for _ in range(20):
            if url.startswith(self.app_base) or url.startswith("/"):
                path = url[len(self.app_base):] if url.startswith(self.app_base) else url
                return self.client.get(path)
            response = self.web.get(url, allow_redirects=False, timeout=10)
            while True:
                if response.is_redirect:
                    url = urljoin(url, response.headers["Location"])
                    break
                form = _FORM.search(response.text)
                if form is None:
                    return response  # a page of the provider's own (signed out, an error)
                data = dict(_HIDDEN.findall(form.group(2)))
                if data.get("prompt") == "login":
                    data.update(login=login or "", password="any-password")
                if 'name="logout"' in response.text:
                    data["logout"] = "yes"
                url = urljoin(url, form.group(1))
                response = self.web.post(url, data=data, allow_redirects=False, timeout=10)
        raise AssertionError("too many redirects")

    def sign_in(self, login: str, next_url: str = "") -> Any:
        """Press "Sign in with …" and sign in at the provider as ``login``."""
        start = self.client.get("/login/oidc" + (f"?next={next_url}" if next_url else ""))
        if start.status_code != 302:
            return start
        return self.follow(start.headers["Location"], login)

    def callback_url(self, login: str) -> str:
        """Walk the provider up to the redirect back to DutyDesk, without following it."""
        url = self.client.get("/login/oidc").headers["Location"]
        for _ in range(20):
            if url.startswith(self.app_base):
                return url[len(self.app_base):]
            response = self.web.get(url, allow_redirects=False, timeout=10)
            while not response.is_redirect:
                form = _FORM.search(response.text)
                assert form is not None
                data = dict(_HIDDEN.findall(form.group(2)))
                if data.get("prompt") == "login":
                    data.update(login=login, password="any-password")
                url = urljoin(url, form.group(1))
                response = self.web.post(url, data=data, allow_redirects=False, timeout=10)
            url = urljoin(url, response.headers["Location"])
        raise AssertionError("too many redirects")
