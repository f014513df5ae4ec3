"""Concerns a guardian records: raised with them in person, by phone, email or letter, or through a speak up
champion. Sealed and wrapped for the roster exactly as a concern raised online (``raising.raise_concern``)."""

from __future__ import annotations

from dataclasses import dataclass

from speakup.domain import characteristics, raising, submissions
from speakup.domain.categories import RECORDED_CHANNELS
from speakup.platform import clock
from speakup.platform.inputs import InvalidInput
from speakup.platform.models import User, db

RECORD_FIELDS = (
    "channel",
    "what_happened",
    "where",
    "when",
    "anonymity",
    "name",
    "contact",
    "worker_group",
    "give_access_code",
    *characteristics.FIELDS,
)


@dataclass(frozen=True)
class RecordedConcern:
    reference: str
    # Only when the person asked for one. Otherwise the case's code was never shown to anyone and is gone: its
    # reporter grant is sealed under a key nobody can make (115 bits), so nobody can follow the case up online.
    access_code: str | None


def record_concern(data: dict[str, str], guardian: User, sent: submissions.Sent | None = None) -> RecordedConcern:
    """Checks what the guardian typed (every problem at once, by field), then raises the concern as theirs.

    ``sent`` names the guardian's form: what they are to be shown (the reference, and the access code when the person
    asked for one) is sealed under it for the page the form leads to (domain/submissions.py). A code is sealed in the
    concern's own transaction, so it is never made without a way to show it; a code nobody asked for is never kept."""
    errors: dict[str, str] = {}
    channel = data.get("channel")
    if not isinstance(channel, str) or channel not in RECORDED_CHANNELS:
        errors["channel"] = "Choose how the concern was raised"
    fields: dict[str, object] = {key: data.get(key) for key in raising.CONCERN_FIELDS if key != "exclude_guardian"}
    fields["characteristics"] = characteristics.from_form(data)  # what they chose to say about themselves
    try:
        concern = raising.check_concern(fields, raising.GUARDIAN)
    except InvalidInput as refused:
        errors |= refused.errors
    if errors:
        raise InvalidInput(errors)
    give_code = data.get("give_access_code") == "yes"
    raised = raising.raise_concern(
        concern, channel=str(channel), recorded_by=guardian, sent=sent if give_code else None
    )
    if sent is not None and not give_code:
        # The reference alone, after the concern: losing it loses only this page, the case is in the guardian's list.
        answer = submissions.Answer(raised.reference, "", raised.status, raised.acknowledge_by)
        db.session.add(submissions.row_for(sent, answer, clock.minute_now()))
    return RecordedConcern(raised.reference, raised.access_code if give_code else None)
