"""A staff account's keys: sealed under a key derived from the password, unlocked at sign-in."""

from __future__ import annotations

import hmac
import logging
from dataclasses import dataclass
from typing import NoReturn

from flask import current_app

from speakup.crypto import kem, labels, password_keys, sealing, signing
from speakup.keys import account_identity
from speakup.platform.config import settings
from speakup.platform.models import (
    User,
)

logger = logging.getLogger(__name__)

# Used only to spend the same effort on a wrong access code as on a right one.
_DECOY_SALT = b"\x00" * sealing.SALT_BYTES

_DECOY_WRAPPED = b"\x01" + b"\x00" * (sealing.NONCE_BYTES + sealing.KEY_BYTES + 16)


class InvalidCredentials(Exception):
    """Email, password or security code did not match. Deliberately says no more than that."""


def password_params() -> password_keys.PasswordParams:
    """The Argon2id cost for a password sealed now, from config (accounts keep theirs until it changes)."""
    configured = settings()
    return password_keys.PasswordParams(
        configured.argon2_memory_kib, configured.argon2_iterations, configured.argon2_lanes
    )


def derive_password_key(
    password: str, salt: bytes, params: password_keys.PasswordParams, pepper: bytes | None = None
) -> bytes:
    """One Argon2id derivation with the server's pepper (the current one unless ``pepper``) as its secret, waiting
    for one of this process's slots so its memory stays bounded."""
    secret = password_keys.pepper_secret(pepper if pepper is not None else settings().token_pepper)
    with current_app.extensions["speakup_password_derivations"]:
        return password_keys.password_key(password, salt, params, secret)


@dataclass(frozen=True)
class AccountKeys:
    private_key: bytes  # HPKE: opens the case keys wrapped for this account
    signing_key: bytes | None  # signs approvals of other guardians; None for an account from before rosters


def new_account_keys() -> AccountKeys:
    return AccountKeys(kem.generate_keypair().private_bytes, signing.generate_signing_keypair().private_bytes)


def seal_account(
    user: User, password: str, params: password_keys.PasswordParams, keys: AccountKeys, totp_secret: bytes | None
) -> None:
    """Seals the account's private keys and TOTP secret under a key derived from the password, bound to who the
    account is (its id, role and address: ``account_identity.who``), records their public halves and vouches for
    the row (``account_identity.stamp``). Changing a password re-seals the same keys; enrolling seals new ones. The
    caller has checked the row is as the service left it (a new one has its id)."""
    salt = password_keys.new_salt()
    who = account_identity.who(user)
    wrapping_key = derive_password_key(password, salt, params)
    user.public_key = kem.public_key_of(keys.private_key)
    user.password_salt = salt
    user.kdf_memory_kib, user.kdf_iterations, user.kdf_lanes = params.memory_kib, params.iterations, params.lanes
    user.kdf_peppered = params.peppered
    user.kdf_pepper_id = sealing.pepper_id(settings().token_pepper) if params.peppered else None
    user.private_key_ct = sealing.seal(wrapping_key, keys.private_key, labels.bound_account_private_key(salt, who))
    user.totp_secret_ct = (
        sealing.seal(wrapping_key, totp_secret, labels.bound_account_totp(salt, who)) if totp_secret else None
    )
    _seal_signing_key(user, wrapping_key, keys.signing_key, salt)
    account_identity.stamp(user)
    # Under the current pepper: nothing needs to vouch for it. Sealed with none (only as a release from before the
    # pepper did, which tests replay): vouched for under the current pepper, as migration 0024 did for those.
    user.pepper_stamp = (
        None if params.peppered else sealing.row_stamp(settings().token_pepper, STAMP_KIND, _stamped(user))
    )


def _seal_signing_key(user: User, wrapping_key: bytes, signing_key: bytes | None, salt: bytes) -> None:
    if signing_key is None:
        user.signing_public_key = user.signing_key_ct = None
        return
    user.signing_public_key = signing.signing_public_key_of(signing_key)
    user.signing_key_ct = sealing.seal(
        wrapping_key, signing_key, labels.bound_account_signing_key(salt, account_identity.who(user))
    )


def clear_account_keys(user: User) -> None:
    """An administrator's reset: the old keys and password stop working at once, and the person enrols again."""
    with account_identity.changed_by_the_service(user, "reset"):
        _clear(user)


def _clear(user: User) -> None:
    user.public_key = user.private_key_ct = user.password_salt = None
    user.signing_public_key = user.signing_key_ct = user.totp_secret_ct = None
    user.kdf_memory_kib = user.kdf_iterations = user.kdf_lanes = None
    user.kdf_pepper_id = user.totp_last_step = user.pepper_stamp = None


@dataclass(frozen=True)
class UnlockedAccount:
    keys: AccountKeys
    totp_secret: bytes | None

    @property
    def private_key(self) -> bytes:
        return self.keys.private_key


def password_params_of(user: User) -> password_keys.PasswordParams:
    memory_kib, iterations, lanes = user.kdf_memory_kib, user.kdf_iterations, user.kdf_lanes
    if memory_kib is None or iterations is None or lanes is None:
        raise InvalidCredentials()  # no keys sealed under a password (never enrolled, or reset)
    return password_keys.PasswordParams(memory_kib, iterations, lanes, peppered=bool(user.kdf_peppered))


def unlock_account(user: User, password: str) -> UnlockedAccount:
    """One Argon2id derivation; a wrong password fails to open the private key.

    An account made before signed rosters has no signing key: one is made now, while the password-derived key is
    at hand, and sealed beside the others. Until a guardian or the organisation key approves it, that key can
    approve nobody (speakup/keys/roster.py).

    The row must be as the service left it (``account_identity.checked``): its keys are bound to who the account
    is, and keys sealed before that binding open only while the row's stamp vouches for them."""
    salt, sealed_private_key = user.password_salt, user.private_key_ct
    if not user.is_enrolled or salt is None or sealed_private_key is None:
        raise InvalidCredentials()
    pepper = sealed_under(user)
    if not account_identity.checked(user, "sign-in"):
        raise InvalidCredentials()
    wrapping_key = derive_password_key(password, salt, password_params_of(user), pepper)
    try:
        private_key, totp_secret, signing_key = _open_bound(user, wrapping_key, salt, sealed_private_key)
        bound = True
    except sealing.DecryptionError:
        try:  # sealed before the binding: the stamp just checked vouches for these very columns of this account
            private_key, totp_secret, signing_key = _open_unbound(user, wrapping_key, salt, sealed_private_key)
        except sealing.DecryptionError as exc:
            raise InvalidCredentials() from exc
        bound = False
    if signing_key is None:
        signing_key = signing.generate_signing_keypair().private_bytes
        _seal_signing_key(user, wrapping_key, signing_key, salt)
    keys = AccountKeys(private_key, signing_key)
    if (not bound or not under_current_pepper(user)) and holds_stored_keys(user, keys):
        # Sealed before the binding, before the pepper joined the password, or under a pepper since rotated: sealed
        # again now, bound, under the current one (one more derivation, once). Never over stored public keys that
        # are not this person's: sealing would write their own back and hide the swap the caller is about to find
        # (``holds_stored_keys``).
        seal_account(user, password, password_params(), keys, totp_secret)
    return UnlockedAccount(keys, totp_secret)


Opened = tuple[bytes, bytes | None, bytes | None]  # the private key, the TOTP secret, the signing key


def _open_bound(user: User, wrapping_key: bytes, salt: bytes, sealed_private_key: bytes) -> Opened:
    who = account_identity.who(user)
    private_key = sealing.open_sealed(wrapping_key, sealed_private_key, labels.bound_account_private_key(salt, who))
    totp_ct, signing_ct = user.totp_secret_ct, user.signing_key_ct
    totp_secret = sealing.open_sealed(wrapping_key, totp_ct, labels.bound_account_totp(salt, who)) if totp_ct else None
    signing_key = (
        sealing.open_sealed(wrapping_key, signing_ct, labels.bound_account_signing_key(salt, who))
        if signing_ct
        else None
    )
    return private_key, totp_secret, signing_key


def _open_unbound(user: User, wrapping_key: bytes, salt: bytes, sealed_private_key: bytes) -> Opened:
    private_key = sealing.open_sealed(wrapping_key, sealed_private_key, labels.account_private_key(salt))
    totp_ct, signing_ct = user.totp_secret_ct, user.signing_key_ct
    totp_secret = sealing.open_sealed(wrapping_key, totp_ct, labels.account_totp(salt)) if totp_ct else None
    signing_key = (
        sealing.open_sealed(wrapping_key, signing_ct, labels.account_signing_key(salt)) if signing_ct else None
    )
    return private_key, totp_secret, signing_key


def sealed_under(user: User) -> bytes:
    """The pepper the account's keys are sealed under: the one its ``kdf_pepper_id`` names among the configured
    peppers (none named: the current one). A name no configured pepper has refuses the sign-in, with an ERROR line:
    the pepper it was sealed under was dropped from SPEAKUP_TOKEN_PEPPER_FALLBACKS (or the column was changed)."""
    peppers = settings().token_peppers
    if not user.kdf_peppered and not sealing.stamp_holds(peppers[0], user.pepper_stamp, STAMP_KIND, _stamped(user)):
        _stamp_invalid(user, "with no pepper")
    if user.kdf_pepper_id is None:
        return peppers[0]
    for index, pepper in enumerate(peppers):
        if hmac.compare_digest(sealing.pepper_id(pepper), user.kdf_pepper_id):
            if index and not sealing.stamp_holds(peppers[0], user.pepper_stamp, STAMP_KIND, _stamped(user)):
                _stamp_invalid(user, "under a fallback pepper")
            return pepper
    logger.error(
        "Account pepper unknown: account %s is sealed under pepper %s, which neither SPEAKUP_TOKEN_PEPPER nor "
        "SPEAKUP_TOKEN_PEPPER_FALLBACKS holds; its sign-in is refused (docs/deploy.md, 'Rotating the pepper')",
        user.id,
        user.kdf_pepper_id,
    )
    raise InvalidCredentials()


STAMP_KIND = "account"


def _stamp_invalid(user: User, how: str) -> NoReturn:
    logger.error(
        "Pepper stamp invalid: account %s is sealed %s without a stamp the service made (migration 0024, "
        "`speakup rotate-pepper`); its sign-in is refused (a database writer wrote or changed it?)",
        user.id,
        how,
    )
    raise InvalidCredentials()


def _stamped(user: User) -> tuple[sealing.StampField, ...]:
    """What a rotation vouches for in an account: its id and everything its sign-in reads to open its keys. Not the
    public keys: a swap of those is found by ``holds_stored_keys`` and named as such (a roster alarm)."""
    return (
        user.id,
        user.kdf_pepper_id,
        user.password_salt,
        user.private_key_ct,
        user.totp_secret_ct,
        user.signing_key_ct,
        user.kdf_memory_kib,
        user.kdf_iterations,
        user.kdf_lanes,
        bool(user.kdf_peppered),
    )


def stamp_for_rotation(user: User, old: bytes, new: bytes) -> bool:
    """At `speakup rotate-pepper`, from ``old`` to ``new``: stamps, under the new pepper, an account that may be opened
    under a fallback after it: one under ``old``, or under an older pepper or none (sealed before the pepper joined
    the password) whose stamp holds under ``old``. Any other
    account (one forged or changed since the last rotation) gets no stamp, and opens nothing. Returns whether
    stamped."""
    if user.password_salt is None or (user.kdf_peppered and user.kdf_pepper_id is None):
        user.pepper_stamp = None  # no keys, or (not named by ``prepare``) none to vouch for
        return False
    vouched_now = bool(user.kdf_peppered) and user.kdf_pepper_id == sealing.pepper_id(old)
    if not vouched_now and not sealing.stamp_holds(old, user.pepper_stamp, STAMP_KIND, _stamped(user)):
        user.pepper_stamp = None
        return False
    user.pepper_stamp = sealing.row_stamp(new, STAMP_KIND, _stamped(user))
    return True


def under_current_pepper(user: User) -> bool:
    """Whether the account's keys are sealed with the current pepper as Argon2id's secret."""
    return bool(user.kdf_peppered) and user.kdf_pepper_id in (None, sealing.pepper_id(settings().token_pepper))


def holds_stored_keys(user: User, keys: AccountKeys) -> bool:
    """Whether the public keys stored for the account are the halves of the private keys its password opened. A
    database writer who swaps the stored public keys (to have concerns wrapped for their own) cannot also make the
    person's password open the matching private keys, so the swap shows here at the person's next sign-in."""
    if kem.public_key_of(keys.private_key) != user.public_key:
        return False
    return keys.signing_key is None or signing.signing_public_key_of(keys.signing_key) == user.signing_public_key
