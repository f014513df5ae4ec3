"""Database models. Free text lives only in *_ct columns, sealed under the case key or a session key.

One module per kind of row: staff (accounts and keys), cases (a case and what is sealed under its key), records
(rows that belong to no case). Everything is imported from here."""

from speakup.platform.models.base import Base, db, drop_failed_transaction
from speakup.platform.models.cases import (
    CASE_ID_LIMIT,
    Attachment,
    Case,
    CaseEvent,
    CaseExclusion,
    CaseGrant,
    CaseNote,
    CaseTheme,
    DeadlineExtension,
    Message,
    ReporterSession,
    ShareRequest,
    new_case_id,
)
from speakup.platform.models.records import (
    AuditEvent,
    CharacteristicCount,
    CharacteristicsAnswered,
    FormPost,
    MailOutbox,
    StatsToken,
    Submission,
)
from speakup.platform.models.roles import Author, GrantRecipient, KeyPurpose, Role
from speakup.platform.models.staff import Enrolment, OrganisationKey, RosterEntry, StaffSession, User

__all__ = [
    "CASE_ID_LIMIT",
    "Attachment",
    "AuditEvent",
    "Author",
    "Base",
    "Case",
    "CaseEvent",
    "CaseExclusion",
    "CaseGrant",
    "CaseNote",
    "CaseTheme",
    "CharacteristicCount",
    "CharacteristicsAnswered",
    "DeadlineExtension",
    "Enrolment",
    "FormPost",
    "GrantRecipient",
    "KeyPurpose",
    "MailOutbox",
    "Message",
    "OrganisationKey",
    "ReporterSession",
    "Role",
    "RosterEntry",
    "ShareRequest",
    "StaffSession",
    "StatsToken",
    "Submission",
    "User",
    "db",
    "drop_failed_transaction",
    "new_case_id",
]
