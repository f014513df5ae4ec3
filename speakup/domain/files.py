"""Files attached to a concern: sealed under the case key, listed and opened."""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple

from sqlalchemy import func, select
from sqlalchemy.exc import DBAPIError

from speakup.crypto import labels, sealing
from speakup.domain import handling, raising, submissions
from speakup.domain.raising import ConcernInput, RaisedConcern
from speakup.keys import grants
from speakup.ops import audit, notify
from speakup.platform import clock, transactions
from speakup.platform.attachments import LABELS, SUPPORTED, AttachmentRefused, CleanFile, check_file, size_text
from speakup.platform.config import settings
from speakup.platform.inputs import InvalidInput
from speakup.platform.models import Attachment, Case, db
from speakup.platform.translation import gettext as _
from speakup.platform.translation import ngettext

log = logging.getLogger(__name__)


# Enough for any concern, and a cap on what one reporter session can store.
MAX_FILES_PER_CASE = 20


class AttachmentNotFound(Exception):
    """No attachment with that id belongs to this case."""


@dataclass(frozen=True)
class AttachmentView:
    uid: str
    filename: str
    content_type: str
    size: int
    created_at: datetime

    @property
    def size_text(self) -> str:
        return size_text(self.size)

    @property
    def type_label(self) -> str:
        return LABELS.get(self.content_type) or str(_("File"))


class OpenedAttachment(NamedTuple):
    filename: str
    content_type: str
    data: bytes


_EXTENSIONS = {"image/jpeg": "jpg", "image/png": "png", "application/pdf": "pdf", "text/plain": "txt"}


def neutral_download_name(opened: OpenedAttachment) -> str:
    """What a downloaded file is saved as: the kind of file only, never the name the reporter's device gave it."""
    return f"attachment.{_EXTENSIONS.get(opened.content_type, 'bin')}"


def store(case: Case, case_key: bytes, clean: CleanFile) -> Attachment:
    """Seals a checked file under the case key and adds it to the session; the caller commits."""
    count = db.session.execute(
        select(func.count()).select_from(Attachment).where(Attachment.case_id == case.id)
    ).scalar_one()
    if count >= MAX_FILES_PER_CASE:
        raise AttachmentRefused(
            ngettext(
                "A concern can have up to %(num)d file. Describe the rest in a message",
                "A concern can have up to %(num)d files. Describe the rest in a message",
                MAX_FILES_PER_CASE,
            )
        )
    uid = secrets.token_hex(16)
    attachment = Attachment(
        uid=uid,
        case_id=case.id,
        filename_ct=sealing.seal_text(case_key, clean.filename, labels.attachment_name(case.id, uid)),
        content_type=clean.content_type,
        size=len(clean.data),
        body_ct=sealing.seal(case_key, clean.data, labels.attachment(case.id, uid)),
        protocol=sealing.PROTOCOL,
        created_at=clock.minute_now(),
    )
    db.session.add(attachment)
    audit.record(audit.Action.ATTACHMENT_ADDED, audit.Actor.REPORTER, case_id=case.id)
    return attachment


def attach_to_raised(raised: RaisedConcern, clean: CleanFile) -> Attachment:
    """Adds a file checked before raising to the concern just raised, opening it as its reporter would."""
    case, case_key = grants.open_with_access_code(raised.access_code, settings().token_peppers, just_raised=True)
    return store_clean(case, case_key, clean)


def add_reporter_file(case: Case, case_key: bytes, clean: CleanFile) -> Attachment:
    """A file the reporter adds when following up: kept, then its guardians told, as for a reply (queued in the
    same transaction, so nobody is told about a file that was not kept)."""
    handling.note_reporter_wrote(case, clock.minute_now())
    attachment = store_clean(case, case_key, clean)
    notify.reporter_replied(handling.guardians_of(case))
    return attachment


@transactions.action
def store_clean(case: Case, case_key: bytes, clean: CleanFile) -> Attachment:
    return store(case, case_key, clean)


def list_attachments(case_id: int) -> list[Attachment]:
    statement = select(Attachment).where(Attachment.case_id == case_id).order_by(Attachment.created_at, Attachment.id)
    return list(db.session.scalars(statement))


def describe(case: Case, case_key: bytes) -> list[AttachmentView]:
    """The case's files with their names decrypted, oldest first (bodies stay sealed)."""
    return [
        AttachmentView(
            a.uid,
            sealing.open_text(case_key, a.filename_ct, labels.attachment_name(case.id, a.uid)),
            a.content_type,
            a.size,
            a.created_at,
        )
        for a in list_attachments(case.id)
    ]


def open_attachment(case: Case, case_key: bytes, uid: str) -> OpenedAttachment:
    """One file decrypted in memory. Raises AttachmentNotFound, or sealing.DecryptionError if tampered."""
    attachment = db.session.scalar(select(Attachment).where(Attachment.case_id == case.id, Attachment.uid == uid))
    if attachment is None:
        raise AttachmentNotFound()
    filename = sealing.open_text(case_key, attachment.filename_ct, labels.attachment_name(case.id, uid))
    data = sealing.open_sealed(case_key, attachment.body_ct, labels.attachment(case.id, uid))
    # Only a type this module checked is ever served as such.
    content_type = attachment.content_type if attachment.content_type in SUPPORTED else "application/octet-stream"
    return OpenedAttachment(filename, content_type, data)


def download_attachment(case: Case, case_key: bytes, uid: str, guardian_id: int) -> OpenedAttachment:
    """One of the reporter's files for a guardian to download (``open_attachment``), and the record that they
    exported it."""
    opened = open_attachment(case, case_key, uid)
    audit.record_reading(
        audit.Action.EXPORT,
        audit.Actor.GUARDIAN,
        guardian_id,
        case_id=case.id,
        reason="attachment",
        format=opened.content_type,
    )
    return opened


class NotReady(InvalidInput):
    """The answers cannot be sent as they are: ``errors`` by field, and the file, when it passed, kept with them."""

    def __init__(self, errors: dict[str, str], file: CleanFile | None):
        super().__init__(errors)
        self.file = file


def check_concern_with_file(
    values: dict[str, object], upload: tuple[str, bytes, str] | None, kept: CleanFile | None = None
) -> tuple[ConcernInput, CleanFile | None]:
    """Checks a new concern and its file (a new upload, or ``kept``, one that passed before) together, so every
    problem is reported at once, and nothing is raised. NotReady carries every problem, and the clean file if it
    passed, so it need not be chosen again."""
    errors: dict[str, str] = {}
    concern = None
    clean = kept
    try:
        concern = raising.check_concern(values)
    except InvalidInput as exc:
        errors.update(exc.errors)
    if upload is not None:
        try:
            clean = check_file(*upload)
        except AttachmentRefused as exc:
            errors.update(exc.errors)
            clean = None
    if errors or concern is None:
        raise NotReady(errors, clean)
    return concern, clean


def raise_with_file(
    concern: ConcernInput, clean: CleanFile | None, sent: submissions.Sent | None = None, language: str | None = None
) -> tuple[RaisedConcern, bool]:
    """Raises the concern, then seals the already checked file into it. Returns the raised concern
    and whether the file was kept: the access code is shown once, so a database failure after the
    concern was stored must not hide it (the reporter can add the file again from the follow-up page).
    ``sent`` names the form: sent again, it raises ``submissions.AlreadySent`` and nothing more is stored."""
    raised = raising.raise_concern(concern, sent=sent, language=language)
    if clean is None:
        return raised, True
    kept = True
    try:
        attach_to_raised(raised, clean)
    except DBAPIError:
        log.error("a file could not be stored with a newly raised concern")
        kept = False
    if sent is not None:
        try:
            submissions.note_file(sent, kept, clean.removed_text if kept else "")
        except DBAPIError:
            db.session.rollback()  # the confirmation then shows no note about the file; the concern is safe
    return raised, kept
