"""Sign-in under attack: who to slow down, decided by pure functions of past failures and ``now``.

Behind a reverse proxy every person shares one address, so "five failures from an address lock
that address" would let one script lock the whole team out during an incident. Instead:

- **(address, account) pair** — the usual brute force of one account from one place: after
  ``max_failures`` failures inside the window, attempts wait, and each further failure doubles
  the wait (15 s, 30 s, 60 s … at most the window).
- **account** — the same account attacked from many addresses: the same backoff after
  ``ACCOUNT_FACTOR`` × ``max_failures`` failures.
- **address** — counted only for failures against accounts that do not exist, or against many
  different accounts (password spraying). A suspect address gets its *failures* answered with
  429 and a wait; a correct password from it still signs in, so other people behind the same
  proxy are never refused because of someone else's failures.
- A browser in which the person signed in before carries a signed *device* cookie for that
  account; its attempts are judged by that device's own failures only, so an attack on an
  account does not lock its owner out of their usual browser (OWASP's "device cookies").

The I/O (reading and writing ``login_failures`` rows) lives in ``dutydesk.web.auth``.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

#: An account is throttled after this many times ``max_failures`` failures from anywhere.
ACCOUNT_FACTOR = 4
#: An address that failed on this many times ``max_failures`` different accounts is suspect.
SPREAD_FACTOR = 2
FIRST_WAIT = timedelta(seconds=15)


@dataclass(frozen=True, slots=True)
class SigninPolicy:
    max_failures: int
    window: timedelta


@dataclass(frozen=True, slots=True)
class Failures:
    """Recent failure times that concern one attempt (the caller selects them)."""

    pair: Sequence[datetime] = ()
    account: Sequence[datetime] = ()
    device: Sequence[datetime] = ()
    unknown_accounts_from_address: Sequence[datetime] = ()
    accounts_failed_from_address: int = 0


@dataclass(frozen=True, slots=True)
class Verdict:
    """``refuse_all``: seconds to wait before any attempt (None: go on and check the password).
    ``refuse_failure``: when the password turns out wrong, answer 429 with this wait."""

    refuse_all: int | None
    refuse_failure: int | None


def backoff_wait(times: Iterable[datetime], now: datetime, threshold: int,
                 window: timedelta) -> int | None:
    """Seconds until the next attempt is allowed, or None when it is allowed now.

    Below ``threshold`` failures inside ``window`` nothing waits; at the threshold the wait is
    ``FIRST_WAIT`` after the latest failure, doubling with each further failure, at most
    ``window``.
    """
    recent = sorted(t for t in times if timedelta(0) <= now - t < window)
    if len(recent) < threshold:
        return None
    excess = min(len(recent) - threshold, 30)
    delay = min(window, FIRST_WAIT * (2 ** excess))
    left = recent[-1] + delay - now
    if left <= timedelta(0):
        return None
    return max(1, int(left.total_seconds() + 0.999))


def _worst(*waits: int | None) -> int | None:
    present = [w for w in waits if w is not None]
    return max(present) if present else None


def verdict(failures: Failures, now: datetime, policy: SigninPolicy,
            trusted_device: bool) -> Verdict:
    """Decide one sign-in attempt before its password is checked (see the module docstring)."""
    n, window = policy.max_failures, policy.window
    if trusted_device:
        refuse_all = backoff_wait(failures.device, now, n, window)
    else:
        refuse_all = _worst(backoff_wait(failures.pair, now, n, window),
                            backoff_wait(failures.account, now, n * ACCOUNT_FACTOR, window))
    suspect = backoff_wait(failures.unknown_accounts_from_address, now, n, window)
    if suspect is None and failures.accounts_failed_from_address >= n * SPREAD_FACTOR:
        suspect = int(FIRST_WAIT.total_seconds())
    return Verdict(refuse_all=refuse_all, refuse_failure=suspect)


def client_address(remote_addr: str | None, forwarded_for: str | None,
                   trusted_proxies: Sequence[str]) -> str:
    """The client's address: ``X-Forwarded-For`` is believed only from a trusted proxy.

    The chain is walked from the right (the hop nearest to us) past trusted proxies; the first
    address that is not one is the client. A header from anyone else is ignored, so a client
    cannot pick its own address to dodge throttling.
    """
    remote = (remote_addr or "").strip() or "unknown"
    networks = [ipaddress.ip_network(n, strict=False) for n in trusted_proxies]

    def trusted(address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip.version == net.version and ip in net for net in networks)

    if not networks or not forwarded_for or not trusted(remote):
        return remote
    hops = [h.strip() for h in forwarded_for.split(",") if h.strip()]
    client = remote
    for hop in reversed(hops):
        try:
            ipaddress.ip_address(hop)
        except ValueError:
            return client  # garbage in the chain: stop at the last address we could trust
        client = hop
        if not trusted(hop):
            return hop
    return client
