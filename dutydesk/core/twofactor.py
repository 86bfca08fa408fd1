"""Two-factor sign-in for local accounts: TOTP (RFC 6238) and single-use recovery codes.

The decisions are pure (``now`` passed in): which time step a code matches, whether a role must
use a second factor, what a recovery code looks like. The storage helpers below them claim a
time step with a compare-and-set ``UPDATE`` so two requests carrying the same code cannot both
succeed (a code is refused when replayed within its window).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime

import pyotp
from cryptography.fernet import Fernet, InvalidToken
from sqlalchemy import delete, or_, select, update
from sqlalchemy.orm import Session

from dutydesk.core.models.accounts import RecoveryCode, Role, TwoFactor, User

ISSUER = "DutyDesk"
STEP_SECONDS = 30
DIGITS = 6
# One step either side: a phone clock 30 s off still works, a code lives at most ~90 s.
DRIFT_STEPS = 1
RECOVERY_CODE_COUNT = 10
_RECOVERY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i: read off paper


# ------------------------------------------------------------------------- pure decisions


def parse_required(value: str) -> frozenset[Role]:
    """The roles that must use two-factor from the setting's text.

    ``""``/``"none"`` → nobody, ``"all"`` → every role, else role names separated by commas.
    Raises ``ValueError`` naming the unknown role.
    """
    text = value.strip().lower()
    if text in ("", "none"):
        return frozenset()
    if text == "all":
        return frozenset(Role)
    return frozenset(Role.parse(part.strip()) for part in text.split(",") if part.strip())


def required_for(role: Role, required_roles: frozenset[Role]) -> bool:
    return role in required_roles


def normalise_code(code: str) -> str:
    """What a person typed, without spaces or dashes, lower-case (``"123 456"`` → ``"123456"``)."""
    return "".join(ch for ch in code.lower() if ch not in " -\t")


def matching_step(secret: str, code: str, now: datetime, last_step: int | None) -> int | None:
    """The time step ``code`` belongs to, or ``None`` when it is wrong, too old or already used.

    Steps at or before ``last_step`` (the last accepted code) are never matched: replaying a
    code, or an older one, within its window is refused.
    """
    code = normalise_code(code)
    if len(code) != DIGITS or not code.isdigit():
        return None
    totp = pyotp.TOTP(secret, digits=DIGITS, interval=STEP_SECONDS)
    current = int(now.timestamp()) // STEP_SECONDS
    found: int | None = None
    for step in range(current - DRIFT_STEPS, current + DRIFT_STEPS + 1):
        # compare every candidate (no early exit): timing says nothing about which matched
        if hmac.compare_digest(totp.generate_otp(step), code):
            found = step
    if found is None or (last_step is not None and found <= last_step):
        return None
    return found


def new_secret() -> str:
    return pyotp.random_base32()  # 160 bits, as RFC 4226 recommends


def provisioning_uri(secret: str, account: str) -> str:
    """The ``otpauth://`` URI an authenticator app reads from the QR code."""
    return pyotp.TOTP(secret, digits=DIGITS, interval=STEP_SECONDS).provisioning_uri(
        name=account, issuer_name=ISSUER
    )


def new_recovery_codes(count: int = RECOVERY_CODE_COUNT) -> list[str]:
    """``count`` codes like ``k7mq-x2hd-9fpt-azce`` (16 characters, about 79 random bits)."""
    codes = []
    for _ in range(count):
        raw = "".join(secrets.choice(_RECOVERY_ALPHABET) for _ in range(16))
        codes.append("-".join(raw[i : i + 4] for i in range(0, 16, 4)))
    return codes


def recovery_digest(code: str) -> str:
    return hashlib.sha256(normalise_code(code).encode()).hexdigest()


TOTP_PURPOSE = "dutydesk totp secret"


def _fernet(secret_key: str, purpose: str) -> Fernet:
    key = hashlib.sha256(purpose.encode() + b"\x00" + secret_key.encode()).digest()
    return Fernet(base64.urlsafe_b64encode(key))


def seal(secret: str, secret_key: str, *, purpose: str = TOTP_PURPOSE) -> str:
    """``secret`` encrypted at rest (Fernet) with a key derived from the app's secret key and
    ``purpose`` (one key per kind of secret: TOTP secrets, the facility area's SNMPv3 keys)."""
    return _fernet(secret_key, purpose).encrypt(secret.encode()).decode()


def unseal(sealed: str, secret_key: str, *, purpose: str = TOTP_PURPOSE) -> str | None:
    """The secret, or ``None`` when the app's secret key changed since it was sealed."""
    try:
        return _fernet(secret_key, purpose).decrypt(sealed.encode()).decode()
    except (InvalidToken, ValueError):
        return None


# ------------------------------------------------------------------------- storage


@dataclass(frozen=True, slots=True)
class Enrolment:
    """A started enrolment: the secret in clear (shown once, as QR code and text)."""

    secret: str
    uri: str


def state(session: Session, user: User) -> TwoFactor | None:
    return session.get(TwoFactor, user.id)


def is_enabled(session: Session, user: User) -> bool:
    row = state(session, user)
    return row is not None and row.confirmed_at is not None


def start_enrolment(session: Session, user: User, secret_key: str, now: datetime) -> Enrolment:
    """Begin (or begin again) enrolment with a new secret; refused once enrolment is confirmed."""
    row = state(session, user)
    if row is not None and row.confirmed_at is not None:
        raise ValueError("two-factor sign-in is already on")
    secret = new_secret()
    if row is None:
        session.add(TwoFactor(user_id=user.id, secret=seal(secret, secret_key), created_at=now))
    else:
        row.secret, row.created_at, row.last_step = seal(secret, secret_key), now, None
    session.flush()
    return Enrolment(secret=secret, uri=provisioning_uri(secret, user.email))


def pending_secret(session: Session, user: User, secret_key: str) -> Enrolment | None:
    """The secret of an unconfirmed enrolment (to show its QR code again), else ``None``."""
    row = state(session, user)
    if row is None or row.confirmed_at is not None:
        return None
    secret = unseal(row.secret, secret_key)
    if secret is None:
        return None
    return Enrolment(secret=secret, uri=provisioning_uri(secret, user.email))


def accept_code(
    session: Session, user: User, code: str, secret_key: str, now: datetime
) -> bool:
    """Check a TOTP code and claim its time step (compare-and-set); ``True`` when accepted."""
    row = state(session, user)
    if row is None:
        return False
    secret = unseal(row.secret, secret_key)
    if secret is None:
        return False
    step = matching_step(secret, code, now, row.last_step)
    if step is None:
        return False
    claimed = session.execute(
        update(TwoFactor)
        .where(
            TwoFactor.user_id == user.id,
            or_(TwoFactor.last_step.is_(None), TwoFactor.last_step < step),
        )
        .values(last_step=step)
        .execution_options(synchronize_session=False)
    )
    session.refresh(row)
    return claimed.rowcount == 1


def confirm(session: Session, user: User, code: str, secret_key: str, now: datetime) -> list[str]:
    """Confirm a pending enrolment with its first code; returns the new recovery codes (shown
    once). Raises ``ValueError`` when the code is wrong or there is nothing to confirm."""
    row = state(session, user)
    if row is None or row.confirmed_at is not None:
        raise ValueError("no enrolment to confirm")
    if not accept_code(session, user, code, secret_key, now):
        raise ValueError("wrong code")
    row.confirmed_at = now
    return replace_recovery_codes(session, user, now)


def replace_recovery_codes(session: Session, user: User, now: datetime) -> list[str]:
    """Make a fresh set of recovery codes, voiding the old ones; returns them in clear."""
    session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    codes = new_recovery_codes()
    for code in codes:
        session.add(RecoveryCode(user_id=user.id, code_hash=recovery_digest(code), created_at=now))
    session.flush()
    return codes


def use_recovery_code(session: Session, user: User, code: str, now: datetime) -> bool:
    """Spend one unused recovery code (compare-and-set on ``used_at``); ``True`` when it was."""
    code_id = session.scalar(
        select(RecoveryCode.id).where(
            RecoveryCode.user_id == user.id,
            RecoveryCode.code_hash == recovery_digest(code),
            RecoveryCode.used_at.is_(None),
        )
    )
    if code_id is None:
        return False
    spent = session.execute(
        update(RecoveryCode)
        .where(RecoveryCode.id == code_id, RecoveryCode.used_at.is_(None))
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    return spent.rowcount == 1


def recovery_codes_left(session: Session, user: User) -> int:
    return len(
        list(
            session.scalars(
                select(RecoveryCode.id).where(
                    RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None)
                )
            )
        )
    )


def remove(session: Session, user: User) -> bool:
    """Turn two-factor off for ``user`` (their choice or an admin's reset); ``True`` if it was
    set up at all. The caller audits and commits."""
    had = state(session, user) is not None
    session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    session.execute(delete(TwoFactor).where(TwoFactor.user_id == user.id))
    return had
