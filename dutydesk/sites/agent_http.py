"""How the probe talks to the centre: one HTTP call (``_request``), calls that may be held
(long-polls) in threads of their own, the enrolment, and how many results or events one push
body takes (``fitting``: the centre refuses bodies over 8 MiB)."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import threading
import urllib.error
import urllib.request
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from dutydesk.sites.agent import AgentConfig
    from dutydesk.sites.buffer import Buffer


#: A push body stays under this many bytes (the centre refuses bodies over 8 MiB).
PUSH_BYTES = 4 * 1024 * 1024


def fitting(sizes: list[int], limit: int = PUSH_BYTES) -> int:
    """How many of the leading items (their JSON sizes, in bytes) one push body takes, staying
    under ``limit`` (the centre takes 8 MiB at most: long messages make smaller batches); at
    least one."""
    total = 0
    for count, size in enumerate(sizes):
        total += size + 24  # its "seq" and separators
        if count and total > limit:
            return count
    return len(sizes)


class AgentError(RuntimeError):
    """The probe cannot start (no credential and no token, wrong site, refused enrolment)."""


class CentreAway(RuntimeError):
    """The centre did not answer (or answered 5xx/409): try again later."""


def _request(config: AgentConfig, method: str, path: str, body: Any = None,
             credential: str | None = None, headers: dict[str, str] | None = None,
             held: float = 0.0) -> tuple[int, dict[str, str], Any]:
    """One HTTP call to the centre; (status, headers, JSON or None). ``body``: a JSON value, or
    bytes already encoded. Raises CentreAway when the centre cannot be reached or answers 5xx.
    ``held``: seconds the centre may hold the answer on purpose (a long-poll), added to the
    timeout."""
    data = (body if isinstance(body, bytes) else
            json.dumps(body).encode() if body is not None else None)
    req = urllib.request.Request(config.server + path, data=data, method=method)
    req.add_header("User-Agent", f"dutydesk-probe/{config.version or 'dev'}")
    if data is not None:
        req.add_header("Content-Type", "application/json")
    if credential:
        req.add_header("Authorization", f"Bearer {credential}")
    for name, value in (headers or {}).items():
        req.add_header(name, value)
    try:
        with urllib.request.urlopen(req, timeout=config.http_timeout + held) as answer:
            raw = answer.read()
            return answer.status, dict(answer.headers), json.loads(raw) if raw else None
    except urllib.error.HTTPError as exc:
        if exc.code >= 500:
            raise CentreAway(f"centre answered {exc.code}") from None
        raw = exc.read()
        try:
            parsed = json.loads(raw) if raw else None
        except ValueError:
            parsed = None
        return exc.code, dict(exc.headers), parsed
    except (OSError, ValueError) as exc:  # refused, reset, timed out, DNS, TLS
        raise CentreAway(str(exc)) from None


async def _in_daemon_thread(fn: Any, *args: Any) -> Any:
    """``fn(*args)`` in a thread of its own that does not hold up the probe's exit (a
    long-poll the centre holds for up to half a minute would, in asyncio's executor)."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[Any] = loop.create_future()

    def settle(value: Any, error: BaseException | None) -> None:
        if future.done():  # cancelled: the probe is stopping
            return
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(value)

    def work() -> None:
        try:
            value, error = fn(*args), None
        except BaseException as exc:  # handed to the awaiting task
            value, error = None, exc
        with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
            loop.call_soon_threadsafe(settle, value, error)

    threading.Thread(target=work, name="probe-pull", daemon=True).start()
    return await future


def enrolled_credential(config: AgentConfig, buffer: Buffer) -> str:
    """The credential in the buffer file, or the one the enrolment token is exchanged for."""
    credential = buffer.get("credential")
    token_digest = (hashlib.sha256(config.enrol_token.encode()).hexdigest()
                    if config.enrol_token else None)
    if credential and (token_digest is None or token_digest == buffer.get("enrolled_with")):
        return credential  # a new token (the probe was created again) enrols anew
    if not config.enrol_token:
        raise AgentError("this probe is not enrolled: start it once with --enrol-token "
                         "(from `dutydesk probe create`)")
    try:
        status, _h, body = _request(config, "POST", "/api/probe/v1/enrol",
                                    {"token": config.enrol_token, "version": config.version})
    except CentreAway as exc:
        raise AgentError(f"cannot reach {config.server} to enrol: {exc}") from None
    if status != 200 or not isinstance(body, dict):
        raise AgentError(f"enrolment refused ({status}): "
                         f"{(body or {}).get('error') or (body or {}).get('message') or body}")
    if body.get("site") != config.site:
        raise AgentError(f"the token belongs to site {body.get('site')!r}, not {config.site!r}")
    buffer.put("credential", body["credential"])
    buffer.put("enrolled_with", token_digest or "")
    buffer.put("probe_id", str(body["probe_id"]))
    return body["credential"]
