"""Who can open which case: account keys, sessions, grants and the recovery key.

Sessions follow one rule for staff and reporters alike: the secret is sealed server-side under a
random per-session key, and that key lives only in the browser's signed cookie. Neither half
alone opens anything; deleting the row ends the session everywhere.
"""

from __future__ import annotations

import base64
import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from flask import current_app
from sqlalchemy import delete, insert, select

from . import crypto
from .models import (
    Case,
    CaseExclusion,
    CaseGrant,
    OrganisationKey,
    ReporterSession,
    StaffSession,
    User,
    db,
    utcnow,
)

RECOVERY_FILE_HEADER = "-----BEGIN SPEAKUP RECOVERY KEY-----"
RECOVERY_FILE_FOOTER = "-----END SPEAKUP RECOVERY KEY-----"

# Used only to spend the same effort on a wrong access code as on a right one.
_DECOY_SALT = b"\x00" * crypto.SALT_BYTES
_DECOY_WRAPPED = b"\x01" + b"\x00" * (crypto.NONCE_BYTES + crypto.KEY_BYTES + 16)


class InvalidCredentials(Exception):
    """Email, password or security code did not match. Deliberately says no more than that."""


class AccessCodeNotFound(Exception):
    """No concern opens with this access code (wrong, malformed or unknown: all the same)."""


class SessionExpired(Exception):
    """A session row is gone, idle too long, past its absolute limit, or its cookie key is wrong."""


class NoGrant(Exception):
    """This guardian holds no key for the case."""


class RecoveryKeyMissing(Exception):
    """`flask speakup init` has not been run: there is no recovery key to wrap case keys for."""


class WrongRecoveryKey(Exception):
    """The recovery key file does not match the organisation's recovery public key."""


# --- Accounts ----------------------------------------------------------------------------


def account_aad(salt: bytes, field: str) -> bytes:
    return f"{crypto.PROTOCOL}|account|{salt.hex()}|{field}".encode()


def password_params() -> crypto.PasswordParams:
    """The Argon2id cost for a password sealed now, from config (accounts keep theirs until it changes)."""
    config = current_app.config
    return crypto.PasswordParams(config["ARGON2_MEMORY_KIB"], config["ARGON2_ITERATIONS"], config["ARGON2_LANES"])


def derive_password_key(password: str, salt: bytes, params: crypto.PasswordParams) -> bytes:
    """One Argon2id derivation, waiting for one of this process's slots so its memory stays bounded."""
    with current_app.extensions["speakup_password_derivations"]:
        return crypto.password_key(password, salt, params)


@dataclass(frozen=True)
class AccountKeys:
    private_key: bytes  # HPKE: opens the case keys wrapped for this account
    signing_key: bytes | None  # signs endorsements of other guardians; None for an account from before rosters


def new_account_keys() -> AccountKeys:
    return AccountKeys(crypto.generate_keypair().private_bytes, crypto.generate_signing_keypair().private_bytes)


def seal_account(
    user: User, password: str, params: crypto.PasswordParams, keys: AccountKeys, totp_secret: bytes | None
) -> None:
    """Seals the account's private keys and TOTP secret under a key derived from the password, and records
    their public halves. Changing a password re-seals the same keys; enrolling seals new ones."""
    salt = crypto.new_salt()
    wrapping_key = derive_password_key(password, salt, params)
    user.public_key = crypto.public_key_of(keys.private_key)
    user.password_salt = salt
    user.kdf_memory_kib, user.kdf_iterations, user.kdf_lanes = params.memory_kib, params.iterations, params.lanes
    user.private_key_ct = crypto.seal(wrapping_key, keys.private_key, account_aad(salt, "private-key"))
    user.totp_secret_ct = crypto.seal(wrapping_key, totp_secret, account_aad(salt, "totp")) if totp_secret else None
    _seal_signing_key(user, wrapping_key, keys.signing_key)


def _seal_signing_key(user: User, wrapping_key: bytes, signing_key: bytes | None) -> None:
    if signing_key is None:
        user.signing_public_key = user.signing_key_ct = None
        return
    user.signing_public_key = crypto.signing_public_key_of(signing_key)
    user.signing_key_ct = crypto.seal(wrapping_key, signing_key, account_aad(user.password_salt, "signing-key"))


def clear_account_keys(user: User) -> None:
    """An administrator's reset: the old keys and password stop working at once, and the person enrols again."""
    user.public_key = user.private_key_ct = user.password_salt = None
    user.signing_public_key = user.signing_key_ct = user.totp_secret_ct = None
    user.kdf_memory_kib = user.kdf_iterations = user.kdf_lanes = None
    user.totp_last_step = None
    user.endorsement_id = None


@dataclass(frozen=True)
class UnlockedAccount:
    keys: AccountKeys
    totp_secret: bytes | None

    @property
    def private_key(self) -> bytes:
        return self.keys.private_key


def password_params_of(user: User) -> crypto.PasswordParams:
    return crypto.PasswordParams(user.kdf_memory_kib, user.kdf_iterations, user.kdf_lanes)


def unlock_account(user: User, password: str) -> UnlockedAccount:
    """One Argon2id derivation; a wrong password fails to open the private key.

    An account made before signed rosters has no signing key: one is made now, while the password-derived key is
    at hand, and sealed beside the others. Until a guardian or the organisation key endorses it, that key can
    approve nobody (speakup/roster.py)."""
    if not user.is_enrolled:
        raise InvalidCredentials()
    wrapping_key = derive_password_key(password, user.password_salt, password_params_of(user))
    try:
        private_key = crypto.open_sealed(
            wrapping_key, user.private_key_ct, account_aad(user.password_salt, "private-key")
        )
        totp_secret = (
            crypto.open_sealed(wrapping_key, user.totp_secret_ct, account_aad(user.password_salt, "totp"))
            if user.totp_secret_ct
            else None
        )
        signing_key = (
            crypto.open_sealed(wrapping_key, user.signing_key_ct, account_aad(user.password_salt, "signing-key"))
            if user.signing_key_ct
            else None
        )
    except crypto.DecryptionError as exc:
        raise InvalidCredentials() from exc
    if signing_key is None:
        signing_key = crypto.generate_signing_keypair().private_bytes
        _seal_signing_key(user, wrapping_key, signing_key)
    return UnlockedAccount(AccountKeys(private_key, signing_key), totp_secret)


# --- Staff sessions ----------------------------------------------------------------------


def _session_aad(kind: str, session_id: str) -> bytes:
    return f"{crypto.PROTOCOL}|{kind}-session|{session_id}".encode()


@dataclass(frozen=True)
class SealedForSession:
    """A secret sealed under a fresh per-session key: the row keeps ``sealed``, the cookie ``key``."""

    session_id: str
    sealed: bytes
    key: bytes


def seal_for_session(kind: str, secret: bytes) -> SealedForSession:
    key = crypto.new_session_key()
    session_id = secrets.token_urlsafe(32)
    return SealedForSession(session_id, crypto.seal(key, secret, _session_aad(kind, session_id)), key)


def open_for_session(kind: str, session_id: str, sealed: bytes, key: bytes) -> bytes:
    try:
        return crypto.open_sealed(key, sealed, _session_aad(kind, session_id))
    except crypto.DecryptionError as exc:
        raise SessionExpired() from exc


def _session_secret(keys: AccountKeys) -> bytes:
    return keys.private_key + (keys.signing_key or b"")


def start_staff_session(user: User, keys: AccountKeys) -> tuple[StaffSession, bytes]:
    sealed = seal_for_session("staff", _session_secret(keys))
    row = StaffSession(id=sealed.session_id, user_id=user.id, private_key_ct=sealed.sealed)
    db.session.add(row)
    return row, sealed.key


def load_staff_session(session_id: str, idle: timedelta, absolute: timedelta) -> StaffSession:
    row = db.session.get(StaffSession, session_id)
    now = utcnow()
    if row is None or not row.user.is_active:
        raise SessionExpired()
    if now - row.last_seen_at > idle or now - row.created_at > absolute:
        db.session.delete(row)
        db.session.commit()
        raise SessionExpired()
    # Write at most once a minute: every page view must not become a database write.
    if now - row.last_seen_at > timedelta(minutes=1):
        row.last_seen_at = now
        db.session.commit()
    return row


def staff_keys(row: StaffSession, session_key: bytes) -> AccountKeys:
    """The signed-in person's private keys, opened with the half of the session their cookie holds."""
    secret = open_for_session("staff", row.id, row.private_key_ct, session_key)
    return AccountKeys(secret[:crypto.PRIVATE_KEY_BYTES], secret[crypto.PRIVATE_KEY_BYTES:] or None)


def staff_private_key(row: StaffSession, session_key: bytes) -> bytes:
    return staff_keys(row, session_key).private_key


def end_staff_session(session_id: str) -> None:
    row = db.session.get(StaffSession, session_id)
    if row is not None:
        db.session.delete(row)
        db.session.commit()


# --- Grants ------------------------------------------------------------------------------


def recovery_public_key() -> bytes:
    row = db.session.scalar(select(OrganisationKey).where(OrganisationKey.purpose == "recovery"))
    if row is None:
        raise RecoveryKeyMissing()
    return row.public_key


def _grant_values(
    case_id: int, recipient: str, wrapped_key: bytes, user_id: int | None = None, salt: bytes | None = None
) -> dict[str, object]:
    return {
        "case_id": case_id,
        "recipient": recipient,
        "user_id": user_id,
        "wrapped_key": wrapped_key,
        "salt": salt,
        "protocol": crypto.PROTOCOL,
        "created_at": utcnow(),
    }


def _guardian_grant(case_id: int, case_key: bytes, user_id: int, public_key: bytes) -> dict[str, object]:
    return _grant_values(case_id, "guardian", crypto.wrap_case_key(case_key, public_key, case_id), user_id)


class Recipient(Protocol):
    """A guardian a case key may be wrapped for: a verified roster member (speakup/roster.py), never a bare
    account row, so the public key used is the one the roster's signatures approved."""

    id: int
    public_key: bytes


def grant_case_key(case: Case, case_key: bytes, recipient: Recipient) -> CaseGrant:
    grant = CaseGrant(**_guardian_grant(case.id, case_key, recipient.id, recipient.public_key))
    db.session.add(grant)
    return grant


def wrap_new_case_key(
    case_id: int, case_key: bytes, guardians: list[Recipient], recovery_key: bytes, normalised_code: str
) -> list[dict[str, object]]:
    """A new case's grant rows: its key wrapped for each guardian, the recovery key and the reporter's access
    code. Touches no database, so it can run before the transaction that stores them (``store_grants``)."""
    rows = [_guardian_grant(case_id, case_key, guardian.id, guardian.public_key) for guardian in guardians]
    rows.append(_grant_values(case_id, "recovery", crypto.wrap_case_key(case_key, recovery_key, case_id)))
    salt = crypto.new_salt()
    code_key = crypto.access_code_key(normalised_code, salt, case_id)
    sealed = crypto.seal(code_key, case_key, crypto.associated_data(case_id, "reporter-grant", 0))
    rows.append(_grant_values(case_id, "reporter", sealed, salt=salt))
    return rows


def store_grants(rows: list[dict[str, object]]) -> None:
    """Every grant row has the same keys, so they go in as one multi-row INSERT."""
    db.session.execute(insert(CaseGrant), rows)


def guardian_case_key(case: Case, user_id: int, private_key: bytes) -> bytes:
    grant = db.session.scalar(
        select(CaseGrant).where(
            CaseGrant.case_id == case.id, CaseGrant.recipient == "guardian", CaseGrant.user_id == user_id
        )
    )
    if grant is None:
        raise NoGrant()
    try:
        return crypto.unwrap_case_key(grant.wrapped_key, private_key, case.id)
    except crypto.DecryptionError as exc:
        raise NoGrant() from exc


def holds_grant(case_id: int, user_id: int) -> bool:
    return (
        db.session.scalar(
            select(CaseGrant.id).where(
                CaseGrant.case_id == case_id, CaseGrant.recipient == "guardian", CaseGrant.user_id == user_id
            )
        )
        is not None
    )


def _exclusions_aad(case_id: int) -> bytes:
    return crypto.associated_data(case_id, "exclusions", case_id)


def seal_exclusions(case_id: int, case_key: bytes, user_ids: tuple[int, ...]) -> bytes | None:
    """The excluded guardians' ids sealed under the case key, or None when there are none."""
    if not user_ids:
        return None
    return crypto.seal_text(case_key, json.dumps(sorted(user_ids)), _exclusions_aad(case_id))


def excluded_ids(case: Case, case_key: bytes) -> set[int]:
    """Who the reporter asked to keep out: the sealed list, and any plain rows from before it was sealed."""
    ids = set(db.session.scalars(select(CaseExclusion.user_id).where(CaseExclusion.case_id == case.id)))
    if case.exclusions_ct is not None:
        ids.update(json.loads(crypto.open_text(case_key, case.exclusions_ct, _exclusions_aad(case.id))))
    return ids


def seal_legacy_exclusions(recovery_private_key: bytes) -> int:
    """Moves exclusions stored as plain rows (before they were sealed) into each case's sealed list, opening the
    case keys with the offline recovery key. Returns how many cases changed; the caller commits."""
    case_ids = sorted(set(db.session.scalars(select(CaseExclusion.case_id))))
    for case_id in case_ids:
        case = db.session.get(Case, case_id)
        case_key = recovery_case_key(case, recovery_private_key)
        case.exclusions_ct = seal_exclusions(case.id, case_key, tuple(excluded_ids(case, case_key)))
        db.session.execute(delete(CaseExclusion).where(CaseExclusion.case_id == case_id))
    return len(case_ids)


class ExcludedGuardian(Exception):
    """The person who raised this concern asked for this guardian never to see it."""


def share_case(case: Case, case_key: bytes, to: Recipient, override_exclusion: bool = False) -> bool:
    """Wraps an opened case key for another guardian on the roster. Returns False when they already hold it.

    A guardian the reporter excluded gets nothing unless ``override_exclusion``, which only a second guardian's
    confirmation of a share request gives (speakup/cases.py); the caller audits it.
    """
    if to.id in excluded_ids(case, case_key) and not override_exclusion:
        raise ExcludedGuardian()
    if holds_grant(case.id, to.id):
        return False
    grant_case_key(case, case_key, to)
    return True


@dataclass(frozen=True)
class ShareResult:
    shared: int
    already_held: int
    excluded: int


def share_cases(case_ids: list[int], unwrap: Callable[[Case], bytes], to_user: Recipient) -> ShareResult:
    """Shares many cases (all a guardian holds, or all the recovery key holds), never an excluded one."""
    shared = held = excluded = 0
    held_ids = set(
        db.session.scalars(
            select(CaseGrant.case_id).where(CaseGrant.recipient == "guardian", CaseGrant.user_id == to_user.id)
        )
    )
    for case_id in case_ids:
        case = db.session.get(Case, case_id)
        case_key = unwrap(case)  # the exclusions are sealed: opening the case key comes first
        if to_user.id in excluded_ids(case, case_key):
            excluded += 1
        elif case_id in held_ids:
            held += 1
        else:
            grant_case_key(case, case_key, to_user)
            shared += 1
    return ShareResult(shared, held, excluded)


def guardian_case_ids(user_id: int) -> list[int]:
    return list(
        db.session.scalars(
            select(CaseGrant.case_id)
            .where(CaseGrant.recipient == "guardian", CaseGrant.user_id == user_id)
            .order_by(CaseGrant.case_id)
        )
    )


def recovery_case_ids() -> list[int]:
    return list(
        db.session.scalars(
            select(CaseGrant.case_id).where(CaseGrant.recipient == "recovery").order_by(CaseGrant.case_id)
        )
    )


def recovery_case_key(case: Case, recovery_private_key: bytes) -> bytes:
    grant = db.session.scalar(select(CaseGrant).where(CaseGrant.case_id == case.id, CaseGrant.recipient == "recovery"))
    if grant is None:
        raise NoGrant()
    return crypto.unwrap_case_key(grant.wrapped_key, recovery_private_key, case.id)


def open_with_access_code(code: str, pepper: bytes) -> tuple[Case, bytes]:
    """Finds and opens a case from its access code, with the same work whether or not it exists."""
    try:
        normalised = crypto.normalise_access_code(code)
    except crypto.InvalidAccessCode:
        normalised = None
    lookup = crypto.access_code_lookup_id(pepper, normalised or code[:64])
    # One indexed query, found or not, so the answer takes the same time either way.
    row = db.session.execute(
        select(Case, CaseGrant)
        .join(CaseGrant, (CaseGrant.case_id == Case.id) & (CaseGrant.recipient == "reporter"))
        .where(Case.access_lookup_id == lookup)
    ).first()
    case, grant = (row[0], row[1]) if row is not None and normalised is not None else (None, None)
    case_id = case.id if case is not None else 0
    salt = grant.salt if grant is not None and grant.salt else _DECOY_SALT
    wrapped = grant.wrapped_key if grant is not None else _DECOY_WRAPPED
    code_key = crypto.access_code_key(normalised or "", salt, case_id)
    try:
        case_key = crypto.open_sealed(code_key, wrapped, crypto.associated_data(case_id, "reporter-grant", 0))
    except crypto.DecryptionError as exc:
        raise AccessCodeNotFound() from exc
    if case is None or grant is None:
        raise AccessCodeNotFound()
    return case, case_key


# --- Reporter sessions (HTML follow-up) --------------------------------------------------


def start_reporter_session(case: Case, case_key: bytes, idle: timedelta) -> tuple[ReporterSession, bytes]:
    purge_idle_reporter_sessions(idle)
    sealed = seal_for_session("reporter", case_key)
    row = ReporterSession(id=sealed.session_id, case_id=case.id, case_key_ct=sealed.sealed)
    db.session.add(row)
    db.session.commit()
    return row, sealed.key


def resume_reporter_session(session_id: str, session_key: bytes, idle: timedelta) -> tuple[Case, bytes]:
    row = db.session.get(ReporterSession, session_id)
    now = utcnow()
    if row is None:
        raise SessionExpired()
    if now - row.last_seen_at > idle:
        db.session.delete(row)
        db.session.commit()
        raise SessionExpired()
    case_key = open_for_session("reporter", row.id, row.case_key_ct, session_key)
    row.last_seen_at = now
    db.session.commit()
    case = db.session.get(Case, row.case_id)
    if case is None:
        raise SessionExpired()
    return case, case_key


def end_reporter_session(session_id: str) -> None:
    row = db.session.get(ReporterSession, session_id)
    if row is not None:
        db.session.delete(row)
        db.session.commit()


def purge_idle_reporter_sessions(idle: timedelta, now: datetime | None = None) -> int:
    """Deletes every idle reporter session; a sealed case key is no use to anyone once idle."""
    cutoff = (now or utcnow()) - idle
    return db.session.execute(delete(ReporterSession).where(ReporterSession.last_seen_at < cutoff)).rowcount


def purge_expired_staff_sessions(idle: timedelta, absolute: timedelta, now: datetime | None = None) -> int:
    """Deletes every staff session past its idle or absolute limit. Its sealed private key could no longer be used
    (the session refuses it), but until deleted it sits in the database and in every backup."""
    now = now or utcnow()
    expired = (StaffSession.last_seen_at < now - idle) | (StaffSession.created_at < now - absolute)
    return db.session.execute(delete(StaffSession).where(expired)).rowcount


def end_other_staff_sessions(user_id: int, keep_session_id: str | None) -> int:
    """Ends every session of an account but ``keep_session_id`` (after a password change, say)."""
    query = delete(StaffSession).where(StaffSession.user_id == user_id)
    if keep_session_id is not None:
        query = query.where(StaffSession.id != keep_session_id)
    return db.session.execute(query).rowcount


# --- Recovery key ------------------------------------------------------------------------


def create_recovery_key() -> tuple[OrganisationKey, bytes]:
    """Returns the stored public row and the private key, which the caller writes once to a file."""
    keypair = crypto.generate_keypair()
    row = OrganisationKey(purpose="recovery", public_key=keypair.public_bytes, protocol=crypto.PROTOCOL)
    db.session.add(row)
    return row, keypair.private_bytes


def create_roster_key() -> tuple[OrganisationKey, bytes]:
    """The organisation signing key at the root of the roster: the public half stored (its fingerprint is what
    SPEAKUP_ROSTER_ROOT pins), the private half returned to be written to the recovery key file."""
    keypair = crypto.generate_signing_keypair()
    row = OrganisationKey(purpose="roster", public_key=keypair.public_bytes, protocol=crypto.PROTOCOL)
    db.session.add(row)
    return row, keypair.private_bytes


def organisation_public_key(purpose: str) -> bytes | None:
    return db.session.scalar(select(OrganisationKey.public_key).where(OrganisationKey.purpose == purpose))


@dataclass(frozen=True)
class OrganisationSecrets:
    """What the offline recovery key file holds."""

    recovery_key: bytes
    signing_key: bytes | None  # None in a file written before signed rosters


def encode_recovery_file(private_key: bytes, signing_key: bytes | None = None) -> str:
    body = base64.b64encode(private_key + (signing_key or b"")).decode("ascii")
    lines = [body[i : i + 64] for i in range(0, len(body), 64)]
    header = [RECOVERY_FILE_HEADER, f"Protocol: {crypto.PROTOCOL}"]
    header.append(f"Fingerprint: {crypto.fingerprint(crypto.public_key_of(private_key))}")
    if signing_key is not None:
        header.append(f"Roster-Root: {crypto.roster_fingerprint(crypto.signing_public_key_of(signing_key))}")
    return "\n".join([*header, "", *lines, RECOVERY_FILE_FOOTER, ""])


def read_recovery_file(text: str) -> OrganisationSecrets:
    """Reads a recovery key file and checks it belongs to this organisation (both keys, when it has both)."""
    lines = [line.strip() for line in text.strip().splitlines()]
    if not lines or lines[0] != RECOVERY_FILE_HEADER or lines[-1] != RECOVERY_FILE_FOOTER:
        raise WrongRecoveryKey("not a Speak Up recovery key file")
    body = "".join(line for line in lines[1:-1] if line and ":" not in line)
    try:
        secret = base64.b64decode(body, validate=True)
        if len(secret) not in (crypto.PRIVATE_KEY_BYTES, crypto.PRIVATE_KEY_BYTES + crypto.SIGNING_PRIVATE_BYTES):
            raise ValueError("unexpected length")
        private_key, signing_key = secret[:crypto.PRIVATE_KEY_BYTES], secret[crypto.PRIVATE_KEY_BYTES:] or None
        public_key = crypto.public_key_of(private_key)
        signing_public = crypto.signing_public_key_of(signing_key) if signing_key else None
    except (ValueError, crypto.DecryptionError) as exc:
        raise WrongRecoveryKey("the recovery key file is damaged") from exc
    if public_key != recovery_public_key():
        raise WrongRecoveryKey("this recovery key belongs to another installation")
    if signing_public is not None and signing_public != organisation_public_key("roster"):
        raise WrongRecoveryKey("this file's organisation signing key is not this installation's")
    return OrganisationSecrets(private_key, signing_key)


def decode_recovery_file(text: str) -> bytes:
    """The recovery private key from a recovery key file of this organisation."""
    return read_recovery_file(text).recovery_key
