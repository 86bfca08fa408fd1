"""Sign-in under attack: a script failing over and over from the shared proxy address slows
itself down, never the rest of the team; X-Forwarded-For is believed only from listed proxies."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from dutydesk.app import create_app
from dutydesk.core.config import load_settings
from dutydesk.core.db import Database
from dutydesk.models import Role
from dutydesk.signin_guard import Failures, SigninPolicy, backoff_wait, client_address, verdict

from ..conftest import PASSWORD, csrf_from, make_user

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
WINDOW = timedelta(minutes=15)
POLICY = SigninPolicy(max_failures=5, window=WINDOW)


def ago(*seconds: int) -> list[datetime]:
    return [NOW - timedelta(seconds=s) for s in seconds]


@pytest.mark.parametrize(
    ("failures", "wait"),
    [
        (ago(50, 40, 30, 20), None),                   # below the threshold: no wait
        (ago(50, 40, 30, 20, 10), 5),                  # 5th failure 10 s ago: 15 s after it
        (ago(50, 40, 30, 20, 10, 5), 25),              # one more: 30 s after the latest
        (ago(60, 50, 40, 30, 20, 10, 5), 55),          # and again: 60 s
        (ago(80, 70, 60, 50, 40), None),               # waited out the 15 s
        (ago(*range(1000, 0, -1)), 899),               # a 1,000-failure script: the window
        (ago(1000, 990, 980, 970, 960), None),         # failures older than the window count not
    ],
)
def test_backoff_doubles_with_each_failure_past_the_threshold(failures: list, wait: Any) -> None:
    assert backoff_wait(failures, NOW, 5, WINDOW) == wait


def test_failures_against_other_accounts_never_refuse_a_correct_password() -> None:
    spraying = Failures(unknown_accounts_from_address=ago(*range(900, 0, -1)),
                        accounts_failed_from_address=300)
    decision = verdict(spraying, NOW, POLICY, trusted_device=False)
    assert decision.refuse_all is None  # the password is checked; a right one signs in
    assert decision.refuse_failure is not None  # a wrong one is answered "wait"


def test_a_known_browser_is_judged_by_its_own_failures_only() -> None:
    attacked = Failures(pair=ago(*range(100, 0, -1)), account=ago(*range(300, 0, -1)))
    assert verdict(attacked, NOW, POLICY, trusted_device=False).refuse_all is not None
    assert verdict(attacked, NOW, POLICY, trusted_device=True).refuse_all is None


def test_an_account_attacked_from_many_addresses_is_slowed_down() -> None:
    spread = Failures(account=ago(*range(20, 0, -1)))
    assert verdict(spread, NOW, POLICY, trusted_device=False).refuse_all is not None


@pytest.mark.parametrize(
    ("remote", "header", "trusted", "client"),
    [
        ("203.0.113.5", "10.9.9.9", [], "203.0.113.5"),                   # no proxies listed
        ("203.0.113.5", "10.9.9.9", ["10.0.0.1"], "203.0.113.5"),         # not from a proxy
        ("10.0.0.1", "198.51.100.7", ["10.0.0.1"], "198.51.100.7"),       # from our proxy
        ("10.0.0.1", "1.1.1.1, 198.51.100.7", ["10.0.0.1"], "198.51.100.7"),  # spoofed left
        ("10.0.0.1", "198.51.100.7, 10.0.0.2", ["10.0.0.0/24"], "198.51.100.7"),  # two proxies
        ("10.0.0.1", "junk, 198.51.100.7", ["10.0.0.1"], "198.51.100.7"),
        ("10.0.0.1", "198.51.100.7, junk", ["10.0.0.1"], "10.0.0.1"),     # garbage next to us
    ],
)
def test_x_forwarded_for_is_believed_only_from_trusted_proxies(
    remote: str, header: str, trusted: list, client: str
) -> None:
    assert client_address(remote, header, trusted) == client


# --------------------------------------------------------------------------- over HTTP


def attempt(client: Any, email: str, password: str, **headers: str) -> Any:
    token = getattr(client, "csrf", None)
    if token is None:  # one form token per browser, as a script would reuse it
        token = client.csrf = csrf_from(client.get("/login", headers=headers).get_data(
            as_text=True))
    return client.post("/login", data={"email": email, "password": password,
                                       "csrf_token": token}, headers=headers)


def test_correct_logins_succeed_while_a_script_fails_a_thousand_times_from_the_same_address(
    app: Any, db: Database
) -> None:
    victim = make_user(db, Role.ENGINEER)
    colleague = make_user(db, Role.SHIFT_LEAD)
    owner_browser = app.test_client()
    assert attempt(owner_browser, victim.email, PASSWORD).status_code == 302  # her usual PC
    owner_browser.post("/logout", data={"csrf_token": csrf_from(
        owner_browser.get("/").get_data(as_text=True))})
    owner_browser.csrf = None

    script = app.test_client()  # every client here comes from 127.0.0.1: one shared address
    answers = [attempt(script, victim.email, f"guess {n}").status_code for n in range(1000)]
    answers += [attempt(script, f"nobody{n}@dc.example", "guess").status_code for n in range(12)]
    answers += [attempt(script, colleague.email, "guess").status_code]
    assert answers[:5] == [401] * 5
    # the rest wait, bar a password check now and then as the backoff (15 s, 30 s, ...) runs out
    assert answers[5:1000].count(429) >= 990
    assert 200 not in answers and 302 not in answers

    # another person behind the same address signs in at once
    assert attempt(app.test_client(), colleague.email, PASSWORD).status_code == 302
    # the attacked person too, from the browser she used before
    assert attempt(owner_browser, victim.email, PASSWORD).status_code == 302
    # while from a browser never seen for that account, the account stays slowed down (one
    # more guess first, so the backoff runs from now whatever the time the script took)
    stranger = app.test_client()
    attempt(stranger, victim.email, "one more guess")
    assert attempt(stranger, victim.email, PASSWORD).status_code == 429


def test_behind_a_trusted_proxy_each_person_is_throttled_by_their_own_address(
    settings: Any, db: Database
) -> None:
    overrides = {"env": "testing", "database_url": settings.database_url,
                 "secret_key": settings.secret_key, "instance_path": settings.instance_path,
                 "trusted_proxies": ["127.0.0.1"]}
    app = create_app(load_settings(overrides, environ={}), db=db)
    user = make_user(db, Role.ENGINEER)
    attacker = app.test_client()
    for _n in range(5):
        attempt(attacker, user.email, "guess", **{"X-Forwarded-For": "203.0.113.5"})
    assert attempt(attacker, user.email, PASSWORD,
                   **{"X-Forwarded-For": "203.0.113.5"}).status_code == 429
    assert attempt(app.test_client(), user.email, PASSWORD,
                   **{"X-Forwarded-For": "198.51.100.7"}).status_code == 302


def test_without_trusted_proxies_a_forged_header_does_not_dodge_the_throttle(
    app: Any, db: Database
) -> None:
    user = make_user(db, Role.ENGINEER)
    script = app.test_client()
    for n in range(5):
        attempt(script, user.email, "guess", **{"X-Forwarded-For": f"203.0.113.{n}"})
    assert attempt(script, user.email, PASSWORD,
                   **{"X-Forwarded-For": "198.51.100.99"}).status_code == 429


def test_spraying_many_accounts_from_one_address_gets_its_failures_answered_wait(
    app: Any, db: Database
) -> None:
    colleague = make_user(db, Role.ENGINEER)
    script = app.test_client()
    answers = [attempt(script, f"guess{n}@dc.example", "password1").status_code
               for n in range(6)]
    assert answers[:5] == [401] * 5 and answers[5] == 429
    # a right password from the same address still signs in
    assert attempt(app.test_client(), colleague.email, PASSWORD).status_code == 302
