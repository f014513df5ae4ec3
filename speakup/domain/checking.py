"""Check your answers: a concern checked, not yet raised, read back to its person before it is sent.

The raise form's "Continue" checks everything (the file checked and cleaned too) and raises nothing; the page that
follows shows every answer (``answers_page``), and only its "Submit concern" raises it (``raise_checked``), under
the form's own submission token, so one form is still one concern (domain/submissions.py). How the person chose to
raise it is said in plain words: once sent, a name given cannot be taken back.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from speakup.domain import characteristics, files, raising, submissions
from speakup.domain.categories import ANONYMITY_LABELS, lists_for
from speakup.domain.raising import RaisedConcern
from speakup.platform import clock
from speakup.platform.attachments import FIELD as FILE_FIELD
from speakup.platform.attachments import CleanFile
from speakup.platform.translation import gettext as _
from speakup.platform.translation import lazy_gettext as _l

# What each choice means, in the words of the person choosing. The choice is theirs to make once: what is sent with
# a name cannot be made anonymous afterwards.
MEANINGS = {
    "anonymous": _l(
        "Nobody will be told who you are: your name is not asked for and is not stored. The guardian can only reply "
        "through this service, to whoever has your access code."
    ),
    "confidential": _l(
        "The guardian will know your name and keep it to themselves. Once you send it, your name stays with your "
        "concern: you cannot make it anonymous later."
    ),
    "open": _l(
        "Your name can be shared with the people looking into your concern, so they may know it came from you. Once "
        "you send it, you cannot make it anonymous later."
    ),
}
NOT_GIVEN = _l("Not given")
NO_EXCLUSION = _l("No, any guardian can see it")
NO_FILE = _l("No file")
PREFER_NOT_TO_SAY = characteristics.PREFER_NOT_TO_SAY


@dataclass(frozen=True)
class Answer:
    label: str  # in the reader's language, as is ``value`` when it is one of the form's choices
    value: str
    field: str  # the form field its "Change" link leads back to


@dataclass(frozen=True)
class AnswersPage:
    """Everything "Check your answers" shows, in the order of the form."""

    concern: tuple[Answer, ...]
    anonymity: Answer
    meaning: str
    identity: tuple[Answer, ...]  # the name and contact, when the concern is not anonymous
    excluded: Answer | None  # None when there is no guardian to choose from
    file: Answer
    about_you: tuple[Answer, ...]  # the questions answered; empty when none were


# The form's answers and its file checked together, nothing raised (one rule with the raise that has no check
# step: domain/files.py).
check = files.check_concern_with_file
NotReady = files.NotReady


def answers_page(values: Mapping[str, str], file: CleanFile | None) -> AnswersPage:
    """The page of a form's checked answers, checked again (a guardian may have left the roster since): InvalidInput
    sends the person back to the form."""
    concern = raising.check_concern(_concern_values(values))
    today = clock.uk_today()
    groups = lists_for(today).worker_groups
    rows = (
        Answer(_("What happened"), concern.what_happened, "what_happened"),
        Answer(_("Where it happened"), concern.where or NOT_GIVEN, "where"),
        Answer(_("When it happened"), concern.when or NOT_GIVEN, "when"),
        Answer(_("Your staff group"), groups.get(concern.worker_group, PREFER_NOT_TO_SAY), "worker_group"),
    )
    identity: tuple[Answer, ...] = ()
    if concern.anonymity != "anonymous":
        identity = (
            Answer(_("Your name"), concern.name, "name"),
            Answer(_("How the guardian can contact you"), concern.contact or NOT_GIVEN, "contact"),
        )
    guardians = {str(g.id): g.name for g in raising.excludable_guardians()}
    excluded = None
    if guardians:
        chosen = guardians.get(concern.exclude_guardian, NO_EXCLUSION)
        excluded = Answer(_("A guardian who must not see it"), chosen, "exclude_guardian")
    questions = {q.key: q for q in characteristics.questions_for(today)}
    about = tuple(
        Answer(questions[key].label, questions[key].answers[value], "about") for key, value in concern.characteristics
    )
    return AnswersPage(
        concern=rows,
        anonymity=Answer(_("How you want to raise it"), ANONYMITY_LABELS[concern.anonymity], "anonymity"),
        meaning=MEANINGS[concern.anonymity],
        identity=identity,
        excluded=excluded,
        file=Answer(_("File"), file.filename if file is not None else NO_FILE, FILE_FIELD),
        about_you=about,
    )


def raise_checked(
    values: Mapping[str, str], file: CleanFile | None, sent: submissions.Sent, language: str | None = None
) -> tuple[RaisedConcern, bool]:
    """Raises the checked answers (checked once more) with their clean file: ``files.raise_with_file``, whose
    ``submissions.AlreadySent`` says this form already raised its concern."""
    concern = raising.check_concern(_concern_values(values))
    return files.raise_with_file(concern, file, sent, language)


def _concern_values(values: Mapping[str, str]) -> dict[str, object]:
    """The concern's fields among a kept form's values, with its answers about the person."""
    concern: dict[str, object] = {name: values.get(name, "") for name in raising.CONCERN_FIELDS}
    concern["characteristics"] = characteristics.from_form(values)
    return concern
