"""One form, one concern: however often the form is sent (a double click, a reload, Back and send again) or an API
client retries with the same ``Idempotency-Key``, one concern is raised and every answer names it.

The raise form carries a one-time token drawn when the form is shown; an API client sends its own key. A keyed hash
of either is a unique row (``Submission``), written in the same transaction as the concern, so two sends racing
each other cannot both raise: the second finds the first's row. The row keeps what the person was told (the access
code among it) sealed under a key derived from the token, which only their browser or client holds, so the
confirmation page can be reloaded, and a retried API call answered, with the same code. The HTML confirmation shows
the code for ``CONFIRMATION_MINUTES`` or until the person says they saved it (a shared ward computer); the row, and
with it the sealed code, is deleted after ``SUBMISSION_HOURS`` (``flask speakup sessions purge``).
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, delete, select, update

from speakup.crypto import labels, sealing
from speakup.platform import clock
from speakup.platform.config import settings
from speakup.platform.inputs import InvalidInput
from speakup.platform.models import Submission, db
from speakup.platform.translation import lazy_gettext as _l

FORM = "form"
API = "api"

FORM_FIELD = "submission"  # the raise form's hidden field
FORM_TOKEN = re.compile(r"[A-Za-z0-9_-]{32}")
# A client's Idempotency-Key must be random (a UUID, say): whoever sends it again with the same body gets the access
# code back. Printable ASCII without spaces.
API_KEY = re.compile(r"[\x21-\x7e]{16,255}")
API_KEY_RULE = _l("Idempotency-Key must be 16 to 255 printable characters without spaces, drawn at random (a UUID)")


class KeyReused(Exception):
    """An Idempotency-Key sent again with a different request body."""


@dataclass(frozen=True)
class Sent:
    """One send of a form or one API request, as the person's browser or client identifies it."""

    kind: str
    token: str = field(repr=False)  # the key to the sealed answer: never in a traceback or a test report
    fingerprint: str = ""  # the API request's digest: a key sent again must come with the same body

    @property
    def lookup(self) -> str:
        """The lookup a new row is written under: the current pepper's."""
        return self.lookups[0]

    @property
    def lookups(self) -> tuple[str, ...]:
        """The lookup under each configured pepper, current first: a send from before a rotation is still found."""
        return sealing.keyed_hashes(settings().token_peppers, f"{self.kind}|{self.token}", "submission")

    def _key(self, lookup: str | None = None) -> bytes:
        """The sealing key of the row found by ``lookup`` (the current pepper's by default)."""
        peppers = settings().token_peppers
        pepper = peppers[self.lookups.index(lookup)] if lookup in self.lookups else peppers[0]
        return sealing.key_from_token(self.token, labels.submission_key(self.kind), pepper)


@dataclass(frozen=True)
class Answer:
    """What the person was told when the concern was raised: shown again for the same send."""

    reference: str
    access_code: str = field(repr=False)
    status: str
    acknowledge_by: date
    fingerprint: str = ""
    file_kept: bool = True
    removed: str = ""  # what was taken out of a PDF they sent with it


@dataclass(frozen=True)
class Confirmation:
    reference: str
    answer: Answer | None  # None once the code is no longer shown
    raised_at: datetime


class AlreadySent(Exception):
    """This form or key already raised a concern: ``confirmation`` is what its person was told."""

    def __init__(self, confirmation: Confirmation):
        super().__init__("already sent")
        self.confirmation = confirmation


def new_form_token() -> str:
    return secrets.token_urlsafe(24)


def from_form(token: object) -> Sent:
    """The raise form's token; a form without one (an old page, a script) gets a fresh one and so no protection."""
    if isinstance(token, str) and FORM_TOKEN.fullmatch(token):
        return Sent(FORM, token)
    return Sent(FORM, new_form_token())


def from_api(key: str, body: Mapping[str, object]) -> Sent:
    if not API_KEY.fullmatch(key):
        raise InvalidInput({"Idempotency-Key": str(API_KEY_RULE)})
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    return Sent(API, key, hashlib.sha256(canonical).hexdigest())


def row_for(sent: Sent, answer: Answer, now: datetime) -> Submission:
    """The row to add in the transaction that raises the concern: its unique lookup refuses a second raise."""
    return Submission(
        lookup=sent.lookup, kind=sent.kind, reference=answer.reference, answer_ct=_seal(sent, answer), created_at=now
    )


def _seal(sent: Sent, answer: Answer, lookup: str | None = None) -> bytes:
    lookup = lookup or sent.lookup
    payload = {**asdict(answer), "acknowledge_by": answer.acknowledge_by.isoformat()}
    return sealing.seal(sent._key(lookup), json.dumps(payload).encode(), labels.submission(lookup))


def _open(sent: Sent, sealed: bytes, lookup: str) -> Answer | None:
    try:
        payload = json.loads(sealing.open_sealed(sent._key(lookup), sealed, labels.submission(lookup)))
    except sealing.DecryptionError:
        return None
    return Answer(**{**payload, "acknowledge_by": date.fromisoformat(payload["acknowledge_by"])})


def find(sent: Sent) -> Confirmation | None:
    """The concern this send already raised, or None. The access code comes back only while it may be shown."""
    row = _row(sent)
    if row is None:
        return None
    shown_for = timedelta(minutes=settings().confirmation_minutes) if sent.kind == FORM else _kept_for()
    answer = None
    if row.answer_ct is not None and clock.utcnow() - row.created_at <= shown_for:
        answer = _open(sent, row.answer_ct, row.lookup)
        if answer is not None and answer.fingerprint != sent.fingerprint:
            raise KeyReused()
    return Confirmation(row.reference, answer, row.created_at)


def check_not_sent(sent: Sent | None) -> None:
    """Raises AlreadySent when this send already raised a concern."""
    if sent is not None and (done := find(sent)) is not None:
        raise AlreadySent(done)


def note_file(sent: Sent, file_kept: bool, removed: str) -> None:
    """Adds what became of the file sent with the concern to what its confirmation shows."""
    done = find(sent)
    if done is None or done.answer is None:
        return
    answer = Answer(**{**asdict(done.answer), "file_kept": file_kept, "removed": removed})
    row = _row(sent)
    if row is not None:
        row.answer_ct = _seal(sent, answer, row.lookup)


def forget_code(sent: Sent) -> None:
    """The person saved their code: it is no longer kept or shown. The row stays, so sending the form again still
    finds the concern it raised."""
    db.session.execute(update(Submission).where(Submission.lookup.in_(sent.lookups)).values(answer_ct=None))


def _row(sent: Sent) -> Submission | None:
    """The row of this send, under whichever configured pepper it was written."""
    return db.session.scalar(select(Submission).where(Submission.lookup.in_(sent.lookups)).limit(1))


def _kept_for() -> timedelta:
    return timedelta(hours=settings().submission_hours)


def purge(now: datetime | None = None) -> int:
    """Deletes the submissions older than SUBMISSION_HOURS, and forgets the codes of forms older than
    CONFIRMATION_MINUTES. The caller commits."""
    now = now or clock.utcnow()
    expired = db.session.execute(delete(Submission).where(Submission.created_at < now - _kept_for()))
    deleted = cast("CursorResult[Any]", expired).rowcount  # a DELETE's result is a CursorResult
    form_cutoff = now - timedelta(minutes=settings().confirmation_minutes)
    db.session.execute(
        update(Submission).where(Submission.kind == FORM, Submission.created_at < form_cutoff).values(answer_ct=None)
    )
    return deleted
