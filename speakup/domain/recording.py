"""Concerns a guardian records: raised with them in person, by phone, email or letter, or through a speak up
champion. Sealed and wrapped for the roster exactly as a concern raised online (``raising.raise_concern``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from speakup.domain import characteristics, raising, references, submissions
from speakup.domain.categories import ANONYMITY_LABELS, RECORDED_CHANNELS, lists_for
from speakup.platform import clock, languages
from speakup.platform.config import settings
from speakup.platform.inputs import InvalidInput
from speakup.platform.models import User, db
from speakup.platform.public_urls import public_url
from speakup.platform.translation import gettext as _

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
    "spoken_language",
    *characteristics.FIELDS,
)


@dataclass(frozen=True)
class RecordFormPage:
    """What the recording form offers today: the ways a concern reaches a guardian, the anonymity choices, the
    worker groups and the questions about the person, and how long the concern may be."""

    channels: Mapping[str, str]
    anonymity_options: Mapping[str, str]
    worker_groups: Mapping[str, str]
    questions: tuple[characteristics.Question, ...]
    max_chars: int
    languages: Mapping[str, str]  # the fixed list a recorded concern's language is chosen from, by code


def record_form_page() -> RecordFormPage:
    today = clock.uk_today()
    return RecordFormPage(
        channels=RECORDED_CHANNELS,
        anonymity_options=ANONYMITY_LABELS,
        worker_groups=lists_for(today).worker_groups,
        questions=characteristics.questions_for(today),
        max_chars=settings().max_concern_chars,
        languages={code: languages.both_names(code) for code in languages.KNOWN},
    )


@dataclass(frozen=True)
class RecordedConcern:
    reference: str
    # Only when the person asked for one. Otherwise the case's code was never shown to anyone and is gone: its
    # reporter grant is sealed under a key nobody can make (115 bits), so nobody can follow the case up online.
    access_code: str | None
    # Opens what the page after the form shows (the reference, and the code when asked for): only the guardian's
    # session holds it.
    shown_with: str


def record_concern(data: dict[str, str], guardian: User) -> RecordedConcern:
    """Checks what the guardian typed (every problem at once, by field), then raises the concern as theirs.

    What they are to be shown (the reference, and the access code when the person asked for one) is sealed under a
    new token for the page the form leads to (domain/submissions.py). A code is sealed in the concern's own
    transaction, so it is never made without a way to show it; a code nobody asked for is never kept."""
    sent = submissions.from_form(submissions.new_form_token())
    errors: dict[str, str] = {}
    channel = data.get("channel")
    if not isinstance(channel, str) or channel not in RECORDED_CHANNELS:
        errors["channel"] = _("Choose how the concern was raised")
    spoken = data.get("spoken_language") or None
    if spoken is not None and raising.known_language(spoken) is None:
        errors["spoken_language"] = _("Choose a language from the list, or leave it empty")
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
        concern, channel=str(channel), recorded_by=guardian, sent=sent if give_code else None, language=spoken
    )
    if not give_code:
        # The reference alone, after the concern: losing it loses only this page, the case is in the guardian's list.
        answer = submissions.Answer(raised.reference, "", raised.status, raised.acknowledge_by)
        db.session.add(submissions.row_for(sent, answer, clock.minute_now()))
    return RecordedConcern(raised.reference, raised.access_code if give_code else None, sent.token)


@dataclass(frozen=True)
class RecordedPage:
    answer: submissions.Answer | None  # None once no longer shown (time up, or handed over): nothing else is shown
    follow_up_url: str
    case_address: int | None  # its page is linked by its id, never its reference


def recorded_page(shown_with: str) -> RecordedPage | None:
    """What the page after the recording shows, from what it sealed under ``shown_with``; None if it left nothing
    (the token is unknown, or its row was purged)."""
    done = submissions.find(submissions.from_form(shown_with))
    if done is None:
        return None
    case = references.case_by_reference(done.reference)
    return RecordedPage(done.answer, public_url("/follow-up"), case.id if case is not None else None)


def handed_over(shown_with: str) -> None:
    """The guardian handed the code over: it is no longer kept or shown."""
    submissions.forget_code(submissions.from_form(shown_with))
