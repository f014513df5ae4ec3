"""The organisation's keys: the offline recovery key, the roster signing key, and their file."""

from __future__ import annotations

import base64
from dataclasses import dataclass

from sqlalchemy import delete, select, update

from speakup.crypto import kem, sealing, signing
from speakup.keys import anchor, roster, roster_log
from speakup.keys.exclusions import legacy_excluded_ids, seal_exclusions
from speakup.keys.grants import NoGrant
from speakup.platform.models import (
    Case,
    CaseExclusion,
    CaseGrant,
    GrantRecipient,
    KeyPurpose,
    OrganisationKey,
    db,
)

RECOVERY_FILE_HEADER = "-----BEGIN SPEAKUP RECOVERY KEY-----"

RECOVERY_FILE_FOOTER = "-----END SPEAKUP RECOVERY KEY-----"


class RecoveryKeyMissing(Exception):
    """`flask speakup init` has not been run: there is no recovery key to wrap case keys for."""


class WrongRecoveryKey(Exception):
    """The recovery key file does not match the organisation's recovery public key."""


def recovery_public_key() -> bytes:
    row = db.session.scalar(select(OrganisationKey).where(OrganisationKey.purpose == KeyPurpose.RECOVERY))
    if row is None:
        raise RecoveryKeyMissing()
    return row.public_key


def recovery_case_ids() -> list[int]:
    return list(
        db.session.scalars(
            select(CaseGrant.case_id).where(CaseGrant.recipient == GrantRecipient.RECOVERY).order_by(CaseGrant.case_id)
        )
    )


def recovery_case_key(case: Case, recovery_private_key: bytes) -> bytes:
    grant = db.session.scalar(
        select(CaseGrant).where(CaseGrant.case_id == case.id, CaseGrant.recipient == GrantRecipient.RECOVERY)
    )
    if grant is None:
        raise NoGrant()
    return kem.unwrap_case_key(grant.wrapped_key, recovery_private_key, case.id)


def create_recovery_key() -> tuple[OrganisationKey, bytes]:
    """Returns the stored public row and the private key, which the caller writes once to a file."""
    keypair = kem.generate_keypair()
    row = OrganisationKey(purpose=KeyPurpose.RECOVERY, public_key=keypair.public_bytes, protocol=sealing.PROTOCOL)
    db.session.add(row)
    return row, keypair.private_bytes


def create_roster_key() -> tuple[OrganisationKey, bytes]:
    """The organisation signing key at the root of the roster: the public half stored (its fingerprint is what
    SPEAKUP_ROSTER_ROOT pins), the private half returned to be written to the recovery key file."""
    keypair = signing.generate_signing_keypair()
    row = OrganisationKey(purpose=KeyPurpose.ROSTER, public_key=keypair.public_bytes, protocol=sealing.PROTOCOL)
    db.session.add(row)
    return row, keypair.private_bytes


def organisation_public_key(purpose: KeyPurpose) -> bytes | None:
    return db.session.scalar(select(OrganisationKey.public_key).where(OrganisationKey.purpose == purpose))


@dataclass(frozen=True)
class OrganisationSecrets:
    """What the offline recovery key file holds."""

    recovery_key: bytes
    signing_key: bytes | None  # None in a file written before signed rosters


def encode_recovery_file(private_key: bytes, signing_key: bytes | None = None) -> str:
    body = base64.b64encode(private_key + (signing_key or b"")).decode("ascii")
    lines = [body[i : i + 64] for i in range(0, len(body), 64)]
    header = [RECOVERY_FILE_HEADER, f"Protocol: {sealing.PROTOCOL}"]
    header.append(f"Fingerprint: {kem.fingerprint(kem.public_key_of(private_key))}")
    if signing_key is not None:
        header.append(f"Roster-Root: {signing.roster_fingerprint(signing.signing_public_key_of(signing_key))}")
    return "\n".join([*header, "", *lines, RECOVERY_FILE_FOOTER, ""])


def parse_recovery_file(text: str) -> OrganisationSecrets:
    """The keys a recovery key file holds, whoever's they are (read_recovery_file also checks they are in force)."""
    lines = [line.strip() for line in text.strip().splitlines()]
    if not lines or lines[0] != RECOVERY_FILE_HEADER or lines[-1] != RECOVERY_FILE_FOOTER:
        raise WrongRecoveryKey("not a Speak Up recovery key file")
    body = "".join(line for line in lines[1:-1] if line and ":" not in line)
    try:
        secret = base64.b64decode(body, validate=True)
        if len(secret) not in (kem.PRIVATE_KEY_BYTES, kem.PRIVATE_KEY_BYTES + signing.SIGNING_PRIVATE_BYTES):
            raise ValueError("unexpected length")
        private_key, signing_key = secret[: kem.PRIVATE_KEY_BYTES], secret[kem.PRIVATE_KEY_BYTES :] or None
        kem.public_key_of(private_key)
        if signing_key:
            signing.signing_public_key_of(signing_key)
    except (ValueError, sealing.DecryptionError) as exc:
        raise WrongRecoveryKey("the recovery key file is damaged") from exc
    return OrganisationSecrets(private_key, signing_key)


RETIRED = "retired by a rotation: use the key file the last rotation wrote"


def read_recovery_file(text: str) -> OrganisationSecrets:
    """Reads a recovery key file and checks it belongs to this organisation (both keys, when it has both), and that
    neither key is one this server's roster anchor has seen replaced (a backup from before a rotation put back)."""
    secrets = parse_recovery_file(text)
    public_key = kem.public_key_of(secrets.recovery_key)
    signing_public = signing.signing_public_key_of(secrets.signing_key) if secrets.signing_key else None
    if public_key != trusted_recovery_public_key():
        raise WrongRecoveryKey(f"this recovery key belongs to another installation, or was {RETIRED}")
    anchored = roster.anchored_in_force()
    if anchored is not None and anchored.recovery_public and roster_log.b64(public_key) != anchored.recovery_public:
        raise WrongRecoveryKey(f"this server saw this file's recovery key {RETIRED}")
    if signing_public is not None and not _is_organisation_key(signing_public, anchored):
        if roster.handed_over_from(signing_public) or (anchored is not None and anchored.root):
            raise WrongRecoveryKey(f"this file's organisation signing key was {RETIRED}")
        raise WrongRecoveryKey("this file's organisation signing key is not this installation's")
    return secrets


def trusted_recovery_public_key() -> bytes:
    """The recovery key the organisation key signed into the roster log; the stored row only before the log starts
    (a row a database writer replaced must not make the real key file look foreign)."""
    return roster.current_roster().recovery_key or recovery_public_key()


def _is_organisation_key(signing_public: bytes, anchored: anchor.Anchor | None) -> bool:
    """The key in force: the pinned one, or the one the log's hand-overs from it lead to (never a retired one); and
    the one this server's anchor names, when it names one (a log put back from before a hand-over leads elsewhere)."""
    if anchored is not None and anchored.root:
        return signing.roster_fingerprint(signing_public) == anchored.root
    in_force = roster.trusted_root_key()
    if in_force is not None:
        return signing_public == in_force
    pinned = roster.pinned_root()
    if pinned:
        return signing.normalise_fingerprint(signing.roster_fingerprint(signing_public)) == pinned
    return signing_public == organisation_public_key(KeyPurpose.ROSTER)


def seal_legacy_exclusions(recovery_private_key: bytes, seal_missing: bool = False) -> int:
    """Moves exclusions stored as plain rows (before they were sealed) into each case's sealed list, opening the
    case keys with the offline recovery key; with ``seal_missing``, also seals an empty list for every case raised
    before every case carried one (`speakup roster upgrade`, once). Returns how many cases changed; the caller
    commits."""
    case_ids = set(db.session.scalars(select(CaseExclusion.case_id)))
    if seal_missing:
        unsealed = select(Case.id).where(Case.exclusions_ct.is_(None), Case.purged_at.is_(None))
        case_ids.update(db.session.scalars(unsealed))
    for case_id in sorted(case_ids):
        case = db.session.get_one(Case, case_id)
        case_key = recovery_case_key(case, recovery_private_key)
        case.exclusions_ct = seal_exclusions(case.id, case_key, tuple(legacy_excluded_ids(case, case_key)))
        db.session.execute(delete(CaseExclusion).where(CaseExclusion.case_id == case_id))
    return len(case_ids)


class RosterNotVerified(Exception):
    """The roster has an alarm: no new checkpoint is signed over a log nobody can trust (`speakup roster accept`)."""


def rotate_recovery_key(old_private_key: bytes) -> tuple[bytes, int]:
    """A new recovery keypair in place of the old one: every case key re-wrapped for it and its public half stored.
    The caller signs it into the roster (keys/organisation_key.py, under a new organisation key too). Returns the
    new private key and how many cases were re-wrapped."""
    keypair = kem.generate_keypair()
    grants = select(CaseGrant).where(CaseGrant.recipient == GrantRecipient.RECOVERY).execution_options(yield_per=500)
    count = 0
    for grant in db.session.scalars(grants):
        case_key = kem.unwrap_case_key(grant.wrapped_key, old_private_key, grant.case_id)
        grant.wrapped_key = kem.wrap_case_key(case_key, keypair.public_bytes, grant.case_id)
        count += 1
    store_recovery_public_key(keypair.public_bytes)
    return keypair.private_bytes, count


def store_recovery_public_key(public_key: bytes) -> None:
    stored = update(OrganisationKey).where(OrganisationKey.purpose == KeyPurpose.RECOVERY)
    db.session.execute(stored.values(public_key=public_key))


def store_organisation_keys(secrets: OrganisationSecrets) -> None:
    """The stored public rows of the keys in force (read_recovery_file checked them)."""
    store_recovery_public_key(kem.public_key_of(secrets.recovery_key))
    if secrets.signing_key is not None:
        stored = update(OrganisationKey).where(OrganisationKey.purpose == KeyPurpose.ROSTER)
        db.session.execute(stored.values(public_key=signing.signing_public_key_of(secrets.signing_key)))


def rewrap_restored_grants(in_force: bytes, retired: bytes | None) -> tuple[int, int]:
    """After a backup from before a rotation was put back (`speakup roster accept`): every recovery grant the key in
    force cannot open is re-wrapped for it, opened with the ``retired`` key (used for nothing else). Returns how many
    were re-wrapped and how many are left wrapped for a retired key (no ``retired`` key, or not that one)."""
    public_key = kem.public_key_of(in_force)
    grants = select(CaseGrant).where(CaseGrant.recipient == GrantRecipient.RECOVERY).execution_options(yield_per=500)
    rewrapped = left = 0
    for grant in db.session.scalars(grants):
        if _opens(grant, in_force) is not None:
            continue
        case_key = _opens(grant, retired) if retired is not None else None
        if case_key is None:
            left += 1
            continue
        grant.wrapped_key = kem.wrap_case_key(case_key, public_key, grant.case_id)
        rewrapped += 1
    return rewrapped, left


def _opens(grant: CaseGrant, private_key: bytes) -> bytes | None:
    try:
        return kem.unwrap_case_key(grant.wrapped_key, private_key, grant.case_id)
    except sealing.DecryptionError:
        return None
