"""Staff accounts: creating them and signing in. Wrong details never say which detail was wrong."""

from __future__ import annotations

import time
from dataclasses import dataclass

from flask import current_app
from sqlalchemy import func, select

from . import crypto, keyring
from .keyring import InvalidCredentials
from .models import User, db

ROLES = ("guardian", "admin")
MIN_PASSWORD_CHARS = 12


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


def create_user(email: str, name: str, role: str, password: str) -> NewAccount:
    email = email.strip()
    if role not in ROLES:
        raise AccountError(f"role must be one of: {', '.join(ROLES)}")
    if "@" not in email or len(email) > 254:
        raise AccountError("enter a valid email address")
    if not name.strip():
        raise AccountError("enter a name")
    if len(password) < MIN_PASSWORD_CHARS:
        raise AccountError(f"the password must be at least {MIN_PASSWORD_CHARS} characters")
    if find_user(email) is not None:
        raise AccountError("an account with that email address already exists")
    totp_secret = crypto.new_totp_secret() if current_app.config["REQUIRE_MFA"] else None
    params = password_params()
    sealed = keyring.seal_new_account(password, params, totp_secret)
    user = User(
        email=email,
        name=name.strip(),
        role=role,
        public_key=sealed.public_key,
        private_key_ct=sealed.private_key_ct,
        password_salt=sealed.salt,
        totp_secret_ct=sealed.totp_secret_ct,
        kdf_memory_kib=params.memory_kib,
        kdf_iterations=params.iterations,
        kdf_lanes=params.lanes,
    )
    db.session.add(user)
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
        crypto.password_key(password, crypto.new_salt(), password_params())
        raise InvalidCredentials()
    unlocked = keyring.unlock_account(user, password)
    if current_app.config["REQUIRE_MFA"]:
        if unlocked.totp_secret is None:
            raise InvalidCredentials()
        step = crypto.totp_step_matching(unlocked.totp_secret, security_code, time.time())
        if step is None or (user.totp_last_step is not None and step <= user.totp_last_step):
            raise InvalidCredentials()
        user.totp_last_step = step
        db.session.commit()
    return user, unlocked.private_key
