"""Staff accounts: creating them and signing in. Wrong details never say which detail was wrong."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass

from flask import current_app
from sqlalchemy import func, select

from . import audit, crypto, keyring
from .keyring import InvalidCredentials
from .models import CaseGrant, StaffSession, User, db
from .passwords import password_problem

ROLES = ("guardian", "admin")
# One address: a local part, one "@", a dotted domain; no spaces, commas or angle brackets, so an
# email to a guardian can never be sent to a second, smuggled-in address.
EMAIL = re.compile(r"[^@\s,;<>\"]+@[^@\s,;<>\"]+\.[^@\s,;<>\"]+")


class AccountError(Exception):
    """An account cannot be created as asked; the message says why."""


def password_params() -> crypto.PasswordParams:
    config = current_app.config
    return crypto.PasswordParams(config["ARGON2_MEMORY_KIB"], config["ARGON2_ITERATIONS"], config["ARGON2_LANES"])


def find_user(email: str) -> User | None:
    return db.session.scalar(select(User).where(func.lower(User.email) == email.strip().lower()))


@dataclass(frozen=True)
class NewAccount:
    user: User
    totp_secret: bytes | None


def create_user(
    email: str, name: str, role: str, password: str, actor_type: str = "system", actor_id: int | None = None
) -> NewAccount:
    email = email.strip()
    if role not in ROLES:
        raise AccountError(f"role must be one of: {', '.join(ROLES)}")
    if not EMAIL.fullmatch(email) or len(email) > 254:
        raise AccountError("enter a valid email address")
    if not name.strip():
        raise AccountError("enter a name")
    if len(name.strip()) > 200:
        raise AccountError("enter a name of 200 characters or fewer")
    problem = password_problem(password, email=email, name=name)
    if problem:
        raise AccountError(problem)
    if find_user(email) is not None:
        raise AccountError("an account with that email address already exists")
    totp_secret = crypto.new_totp_secret() if current_app.config["REQUIRE_MFA"] else None
    user = User(email=email, name=name.strip(), role=role)
    keyring.seal_account(user, password, password_params(), None, totp_secret)
    db.session.add(user)
    db.session.flush()
    audit.record(audit.ACCOUNT_CREATED, actor_type, actor_id, email=email, role=role)
    db.session.commit()
    return NewAccount(user, totp_secret)


def totp_uri_for(account: NewAccount) -> str | None:
    if account.totp_secret is None:
        return None
    return crypto.totp_uri(account.totp_secret, account.user.email, "Speak Up")


def sign_in(email: str, password: str, security_code: str) -> tuple[User, bytes]:
    """Checks email, password and (when required) the security code. Returns the private key."""
    user = find_user(email)
    if user is None or not user.is_active:
        # Spend the same Argon2id effort so the answer's timing does not reveal whether the email exists.
        keyring.derive_password_key(password, crypto.new_salt(), password_params())
        # What was typed is never recorded: a password typed into the email field must not be kept.
        audit.record(audit.SIGN_IN_FAILED, "system", user.id if user else None)
        db.session.commit()
        raise InvalidCredentials()
    try:
        unlocked = keyring.unlock_account(user, password)
        if current_app.config["REQUIRE_MFA"]:
            _check_security_code(user, unlocked.totp_secret, security_code)
    except InvalidCredentials:
        audit.record(audit.SIGN_IN_FAILED, user.role, user.id)
        db.session.commit()
        raise
    audit.record(audit.SIGN_IN_OK, user.role, user.id)
    db.session.commit()
    return user, unlocked.private_key


def _check_security_code(user: User, totp_secret: bytes | None, code: str) -> None:
    if totp_secret is None:
        raise InvalidCredentials()
    step = crypto.totp_step_matching(totp_secret, code, time.time())
    if step is None or (user.totp_last_step is not None and step <= user.totp_last_step):
        raise InvalidCredentials()
    user.totp_last_step = step


def change_password(user: User, current_password: str, new_password: str) -> None:
    """Re-seals the same private key under the new password: every grant keeps working."""
    try:
        unlocked = keyring.unlock_account(user, current_password)
    except InvalidCredentials:
        raise AccountError("Your current password is not right") from None
    problem = password_problem(new_password, email=user.email, name=user.name)
    if problem:
        raise AccountError(problem)
    keyring.seal_account(user, new_password, password_params(), unlocked.private_key, unlocked.totp_secret)
    audit.record(audit.PASSWORD_CHANGED, user.role, user.id)
    db.session.commit()


def reset_password(user: User, new_password: str, admin: User) -> NewAccount:
    """An administrator's reset. Nobody can open the old private key without the old password, so
    the account gets a new keypair and a new TOTP secret; its old case grants are deleted (they
    could never be opened again) until a guardian shares the cases again or the recovery key does."""
    problem = password_problem(new_password, email=user.email, name=user.name)
    if problem:
        raise AccountError(problem)
    totp_secret = crypto.new_totp_secret() if current_app.config["REQUIRE_MFA"] else None
    keyring.seal_account(user, new_password, password_params(), None, totp_secret)
    user.totp_last_step = None
    removed = db.session.execute(
        CaseGrant.__table__.delete().where(CaseGrant.recipient == "guardian", CaseGrant.user_id == user.id)
    ).rowcount
    db.session.execute(StaffSession.__table__.delete().where(StaffSession.user_id == user.id))
    audit.record(audit.PASSWORD_RESET, "admin", admin.id, email=user.email, count=removed)
    db.session.commit()
    return NewAccount(user, totp_secret)


def set_active(user: User, active: bool, admin: User) -> None:
    """Disabling ends the person's sessions at once and stops new cases reaching them."""
    if user.id == admin.id and not active:
        raise AccountError("You cannot disable your own account")
    user.is_active = active
    if not active:
        db.session.execute(StaffSession.__table__.delete().where(StaffSession.user_id == user.id))
    action = audit.ACCOUNT_ENABLED if active else audit.ACCOUNT_DISABLED
    audit.record(action, "admin", admin.id, email=user.email)
    db.session.commit()


def staff_accounts() -> list[User]:
    return list(db.session.scalars(select(User).order_by(User.role, User.name)))
