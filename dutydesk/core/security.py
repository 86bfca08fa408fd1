"""Who is acting: passwords, secret tokens, login throttling, and the request's principal.

A *principal* is whoever makes a request: a signed-in user, an API token, a kiosk screen, or the
anonymous public. Views ask for a minimum role; the rest of the code reads ``principal.label`` for
the audit log.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from werkzeug.security import check_password_hash, generate_password_hash

from dutydesk.core.models.accounts import Role, User

MIN_PASSWORD_LENGTH = 10
TOKEN_PREFIX = "dd"
KIOSK_PREFIX = "kiosk"


class PasswordPolicyError(ValueError):
    pass


def hash_password(password: str) -> str:
    """Hash with scrypt (werkzeug's default method, memory-hard)."""
    check_password_policy(password)
    return generate_password_hash(password, method="scrypt")


def verify_password(password_hash: str, password: str) -> bool:
    return check_password_hash(password_hash, password)


# A valid hash to compare against when the account does not exist, so a failed login takes the
# same time whether or not the email is known.
_DUMMY_HASH = generate_password_hash("not-a-real-password", method="scrypt")


def verify_login(user: User | None, password: str) -> bool:
    if user is None:
        check_password_hash(_DUMMY_HASH, password)
        return False
    return verify_password(user.password_hash, password) and user.active


def check_password_policy(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise PasswordPolicyError(
            f"password must be at least {MIN_PASSWORD_LENGTH} characters, got {len(password)}"
        )
    if password.strip() != password:
        raise PasswordPolicyError("password must not start or end with spaces")


@dataclass(frozen=True, slots=True)
class IssuedSecret:
    """A newly made secret: ``plaintext`` is shown once and never stored."""

    plaintext: str
    prefix: str
    digest: str


def issue_secret(kind: str = TOKEN_PREFIX) -> IssuedSecret:
    """Make a random secret such as ``dd_3f9a1c2b_<43 url-safe chars>``."""
    prefix = secrets.token_hex(4)
    plaintext = f"{kind}_{prefix}_{secrets.token_urlsafe(32)}"
    return IssuedSecret(plaintext=plaintext, prefix=prefix, digest=digest_secret(plaintext))


def digest_secret(plaintext: str) -> str:
    """SHA-256 is enough here: the secret has 256 bits of entropy, unlike a password."""
    return hashlib.sha256(plaintext.encode()).hexdigest()


def secrets_equal(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


def throttle_retry_after(
    failure_times: list[datetime], now: datetime, max_failures: int, window: timedelta
) -> int | None:
    """Seconds to wait before another login attempt, or ``None`` when attempts are allowed.

    After ``max_failures`` failures inside the sliding ``window``, attempts are refused until the
    oldest counted failure leaves the window.
    """
    recent = sorted(t for t in failure_times if now - t < window)
    if len(recent) < max_failures:
        return None
    release_at = recent[-max_failures] + window
    return max(1, int((release_at - now).total_seconds() + 0.999))


@dataclass(frozen=True, slots=True)
class Principal:
    """Whoever makes the current request."""

    kind: str  # "user", "token", "kiosk", "anonymous"
    role: Role | None
    label: str
    user: User | None = None
    token_id: int | None = None
    kiosk_id: int | None = None

    @property
    def authenticated(self) -> bool:
        return self.role is not None

    def can(self, minimum: Role) -> bool:
        return self.role is not None and self.role.at_least(minimum)

    def can_role(self, minimum: str) -> bool:
        """``can`` for templates, which know role names rather than ``Role`` members."""
        return self.can(Role(minimum))

    @property
    def user_id(self) -> int | None:
        return self.user.id if self.user is not None else None


ANONYMOUS = Principal(kind="anonymous", role=None, label="anonymous")
