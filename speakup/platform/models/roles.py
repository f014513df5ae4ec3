"""The fixed words the tables store for who someone is: a staff account's role, who wrote a message, whom a case
key is wrapped for, and what an organisation key is for.

StrEnums, so each member is the very string stored (no migration, nothing changes in the database), a loaded
column compares equal to a member, and templates may go on comparing with the plain string."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    """User.role."""

    GUARDIAN = "guardian"
    ADMIN = "admin"


class Author(StrEnum):
    """Message.author: who wrote a message on a case."""

    REPORTER = "reporter"
    GUARDIAN = "guardian"


class GrantRecipient(StrEnum):
    """CaseGrant.recipient: whom the case key is wrapped for."""

    GUARDIAN = "guardian"  # one grant per guardian holding the case (CaseGrant.user_id)
    RECOVERY = "recovery"  # the organisation's offline recovery key
    REPORTER = "reporter"  # the access code


class KeyPurpose(StrEnum):
    """OrganisationKey.purpose: one row each."""

    RECOVERY = "recovery"  # HPKE: every case key is also wrapped for it
    ROSTER = "roster"  # the signing key at the root of the roster log
