"""Staff accounts and the keys that decide who can open what: accounts, the roster log, enrolment links,
signed-in sessions and the organisation's public keys."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, LargeBinary, String, false, func
from sqlalchemy.orm import Mapped, mapped_column, relationship

from speakup.platform import clock
from speakup.platform.models.base import Model


class User(Model):
    """A guardian or administrator. Their private keys are sealed under their password.

    An account an administrator has just added has no keys and no password yet (``public_key`` is None): the
    person makes them through their enrolment link. A guardian is on the roster, and receives case keys, only
    while the signed roster log (speakup/keys/roster_log.py) approves these very keys, email and role; nothing in
    this row alone makes anyone a reader.
    """

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    # Indexed: every new concern reads the guardians' rows (speakup/keys/roster.py), and a trust may have many more
    # administrators and staff accounts than guardians.
    role: Mapped[str] = mapped_column(String(20), index=True)  # a Role (roles.py)
    is_active: Mapped[bool] = mapped_column(default=True)
    public_key: Mapped[bytes | None] = mapped_column(LargeBinary)  # HPKE: case keys are wrapped for it
    private_key_ct: Mapped[bytes | None] = mapped_column(LargeBinary)
    # Signs approvals of other guardians. None for an account made before signed rosters until its next sign-in.
    signing_public_key: Mapped[bytes | None] = mapped_column(LargeBinary)
    signing_key_ct: Mapped[bytes | None] = mapped_column(LargeBinary)
    password_salt: Mapped[bytes | None] = mapped_column(LargeBinary)
    kdf_memory_kib: Mapped[int | None]
    kdf_iterations: Mapped[int | None]
    kdf_lanes: Mapped[int | None]
    # Whether the server's pepper is Argon2id's secret for this account's keys (speakup/crypto/password_keys.py).
    # False only for an account sealed before it was, until its next sign-in. Changing it only stops sign-in.
    kdf_peppered: Mapped[bool] = mapped_column(default=True, server_default=false())
    # Which pepper (its public id, speakup/crypto/sealing.py pepper_id) that secret came from; None: the current
    # one. An account under a fallback pepper is sealed again under the current one at its next sign-in; an id no
    # configured pepper has refuses sign-in. Changing it only stops sign-in.
    kdf_pepper_id: Mapped[str | None] = mapped_column(String(32))
    # What `speakup rotate-pepper` vouched for (keys/account_keys.py, stamp): a keyed hash under the pepper now in
    # force of the id and every sealed column. An account under a fallback pepper opens only while it holds; None
    # once sealed again under the current pepper.
    pepper_stamp: Mapped[str | None] = mapped_column(String(64))
    # Who the account is, as the service left it (keys/account_identity.py): a keyed hash under the pepper in force
    # of the id, address, role, active flag and sealed credentials. Checked at every sign-in and request; a row
    # changed in the database without it signs nobody in.
    identity_stamp: Mapped[str | None] = mapped_column(String(64))
    # Sealed under the same password-derived key, so a stolen database holds no usable TOTP seed.
    totp_secret_ct: Mapped[bytes | None] = mapped_column(LargeBinary)
    totp_last_step: Mapped[int | None]  # refuses a code's replay within its window
    created_at: Mapped[datetime] = mapped_column(default=clock.utcnow)

    # One account per address whatever its case, in the schema and not only in find_user: two rows for
    # Gita@trust and gita@trust would let a second account borrow a guardian's name in emails and on the Team page.
    __table_args__ = (Index("uq_users_email_lower", func.lower(email), unique=True),)

    @property
    def is_enrolled(self) -> bool:
        return self.public_key is not None


class RosterEntry(Model):
    """One statement of the roster's signed, hash-chained log (speakup/keys/roster_log.py).

    ``statement`` is the canonical JSON that was hashed and, for the statements that add a reader, signed: its
    place (``seq``), the hash of the entry before it, what happened, to whom, when and who signed. The columns
    beside it are copies for queries; the roster trusts only the statement, its signature and the chain. Rows are
    written once and never changed.
    """

    __tablename__ = "roster_log"

    seq: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    kind: Mapped[str] = mapped_column(String(20))
    # No foreign key: the log outlives an account, and an entry names the account it was about.
    user_id: Mapped[int | None] = mapped_column(index=True)
    statement: Mapped[bytes] = mapped_column(LargeBinary)
    signature: Mapped[bytes | None] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(default=clock.utcnow)


class Enrolment(Model):
    """A one-time link for a person to set up their own account. Only a keyed hash of its token is kept."""

    __tablename__ = "enrolments"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=clock.utcnow)
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
    # What `speakup rotate-pepper` vouched for (domain/enrolment.py): a link found under a fallback pepper opens
    # only while it holds.
    pepper_stamp: Mapped[str | None] = mapped_column(String(64))

    user: Mapped[User] = relationship()


class StaffSession(Model):
    """One signed-in browser. Holds the private key sealed under a key that only the cookie has."""

    __tablename__ = "staff_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    private_key_ct: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(default=clock.utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=clock.utcnow)

    user: Mapped[User] = relationship()


class OrganisationKey(Model):
    """The organisation's public keys: "recovery" (HPKE, every case key is wrapped for it) and "roster" (the
    hybrid signing key at the root of the roster log, pinned in config by its fingerprint). Their private
    halves are kept offline in the recovery key file, never by the server."""

    __tablename__ = "organisation_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    purpose: Mapped[str] = mapped_column(String(20), unique=True)  # a KeyPurpose (roles.py)
    public_key: Mapped[bytes] = mapped_column(LargeBinary)
    protocol: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(default=clock.utcnow)
