"""The voluntary "characteristics of those speaking up": questions the person may answer about themselves, when
raising a concern or later, or that a guardian records from what they were told.

The answers are never stored with the concern. They are only added to counts per quarter, question and answer
(``CharacteristicCount``): no case, person or time is kept with them, so they can be counted and suppressed but
never tied to a concern. So that nobody is counted twice, a case that answered has a marker
(``CharacteristicsAnswered``): a keyed hash of its id under the server's pepper, and nothing else. The server finds
a case's marker; a copy of the database without the pepper cannot tell which case a marker is, so it cannot tell
which cases answered, nor whose answers a quarter's counts are. Nothing on the case itself changes when its person
answers (no flag, no time, no version).

What may be shown of them, on any page, export or API, is decided in one place, ``countable``: only quarters that
have ended, and only the questions enough people answered.

"Prefer not to say" is every question's default and is not counted. The questions are versioned by period like
the national return's lists: a change is one new ``QuestionList``, and older quarters keep their answers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite

from speakup.crypto import sealing
from speakup.domain import quarters
from speakup.platform import clock, transactions
from speakup.platform.config import settings
from speakup.platform.inputs import InvalidInput
from speakup.platform.models import Case, CharacteristicCount, CharacteristicsAnswered, db
from speakup.platform.translation import gettext as _
from speakup.platform.translation import lazy_gettext as _l

PREFER_NOT_TO_SAY = _l("Prefer not to say")

# Said on every form that asks, so the person knows before they answer.
HOW_ANSWERS_ARE_KEPT = _l(
    "These questions are optional. Your answers are not stored with your concern: each one is only added to a "
    "count for this quarter, so nobody, the guardian included, can tell which answers were yours. The counts are "
    "shown only once the quarter has ended and only where enough people answered, and small numbers are hidden."
)

YES_NO_ANSWERS: dict[str, str] = {"yes": _l("Yes"), "no": _l("No")}


@dataclass(frozen=True)
class Question:
    key: str  # the form field and the API's name for it
    label: str  # a noun, so it reads the same to the person ("About you") and to a guardian ("About them")
    answers: dict[str, str]  # value -> label; "prefer not to say" is the empty value, never stored
    # (labels are translated for whoever reads them; the key and the values are what is counted)


@dataclass(frozen=True)
class QuestionList:
    starts: date
    questions: tuple[Question, ...]


# From the recording guidance in force from 1 April 2024, which asks guardians to record the characteristics of
# those speaking up where the person is willing: the protected characteristics of the Equality Act 2010 that NHS
# staff monitoring uses (the 2021 census's ethnic groups), and whether the person trained outside the UK (the
# National Guardian's Office reviewed the speaking up of overseas-trained workers before it closed in 2026).
_LISTS = (
    QuestionList(
        starts=date(2024, 4, 1),
        questions=(
            Question(
                "age_band",
                _l("Age"),
                {
                    "under_25": _l("Under 25"),
                    "25_34": _l("25 to 34"),
                    "35_44": _l("35 to 44"),
                    "45_54": _l("45 to 54"),
                    "55_64": _l("55 to 64"),
                    "65_over": _l("65 or over"),
                },
            ),
            Question("sex", _l("Sex"), {"female": _l("Female"), "male": _l("Male"), "other": _l("I use another term")}),
            Question("gender_same_as_birth", _l("Gender the same as the sex registered at birth"), YES_NO_ANSWERS),
            Question(
                "sexual_orientation",
                _l("Sexual orientation"),
                {
                    "bisexual": _l("Bisexual"),
                    "gay_lesbian": _l("Gay or lesbian"),
                    "heterosexual": _l("Heterosexual or straight"),
                    "other": _l("Another sexual orientation"),
                },
            ),
            Question(
                "ethnic_group",
                _l("Ethnic group"),
                {
                    "asian": _l("Asian or Asian British"),
                    "black": _l("Black, Black British, Caribbean or African"),
                    "mixed": _l("Mixed or multiple ethnic groups"),
                    "white": _l("White"),
                    "other": _l("Another ethnic group"),
                },
            ),
            Question("disability", _l("A disability or long-term condition"), YES_NO_ANSWERS),
            Question(
                "religion",
                _l("Religion or belief"),
                {
                    "none": _l("No religion"),
                    "buddhist": _l("Buddhist"),
                    "christian": _l("Christian"),
                    "hindu": _l("Hindu"),
                    "jewish": _l("Jewish"),
                    "muslim": _l("Muslim"),
                    "sikh": _l("Sikh"),
                    "other": _l("Another religion or belief"),
                },
            ),
            Question("trained_outside_uk", _l("Trained or qualified outside the UK"), YES_NO_ANSWERS),
        ),
    ),
)

# Every question any list has asked: the form fields a page reads, whatever the day.
FIELDS = tuple(dict.fromkeys(q.key for entry in _LISTS for q in entry.questions))

Answers = dict[str, str]  # question key -> answer value, "prefer not to say" left out


class AlreadyGiven(Exception):
    """This case's person has already answered; answering again would count them twice."""


def questions_for(day: date) -> tuple[Question, ...]:
    current = _LISTS[0]
    for entry in _LISTS:
        if entry.starts <= day:
            current = entry
    return current.questions


def from_form(values: Mapping[str, str]) -> dict[str, str]:
    """The answers among a form's fields (each question's field has its key as its name)."""
    return {key: values.get(key, "") for key in FIELDS}


def check_answers(answers: object, day: date) -> Answers:
    """The answers given (None or {} for none), each checked against its question; InvalidInput by question key."""
    if answers is None:
        return {}
    if not isinstance(answers, Mapping):
        raise InvalidInput({"characteristics": _("characteristics must be an object of question: answer")})
    questions = {q.key: q for q in questions_for(day)}
    errors, checked = {}, {}
    for key, value in answers.items():
        question = questions.get(key)
        if question is None:
            errors[str(key)] = _("This is not one of the questions asked")
        elif value is None or (isinstance(value, str) and not value.strip()):
            continue  # prefer not to say
        elif not isinstance(value, str) or value not in question.answers:
            errors[key] = _(
                "%(question)s: choose an answer from the list, or prefer not to say", question=question.label
            )
        else:
            checked[key] = value
    if errors:
        raise InvalidInput(errors)
    return checked


# The keyed hash's purpose: a marker is no other kind of pseudonym of the same id. Migration 0018 computed the
# markers of the cases that had answered before, with the same words: never change them.
MARKER_PURPOSE = "characteristics-answered"


def marker(case_id: int) -> str:
    """The marker of a case that answered: a keyed hash of its id under the server's pepper."""
    return sealing.keyed_hash(settings().token_pepper, str(case_id), MARKER_PURPOSE)


def rekey_markers(old_peppers: Sequence[bytes], new_pepper: bytes) -> int:
    """A rotation of the pepper (domain/pepper_rotation.py): every case's marker, made under any of ``old_peppers``,
    made again under ``new_pepper``, so the old pepper (leaked, say) no longer tells which cases answered. A marker
    of no case still kept (its case deleted) goes: it could never be asked for again. Returns how many were kept.
    The caller commits."""
    renamed: dict[str, str] = {}
    for case_id in db.session.scalars(select(Case.id)):
        new = sealing.keyed_hash(new_pepper, str(case_id), MARKER_PURPOSE)
        for old in sealing.keyed_hashes(old_peppers, str(case_id), MARKER_PURPOSE):
            renamed[old] = new
    kept = 0
    for row in db.session.scalars(select(CharacteristicsAnswered)).all():
        if row.lookup in renamed:
            row.lookup, kept = renamed[row.lookup], kept + 1
        else:
            db.session.delete(row)
    return kept


def answered(case: Case) -> bool:
    """Whether the case's person has answered (or a guardian recorded their answers): they are not asked again."""
    return db.session.get(CharacteristicsAnswered, marker(case.id)) is not None


def _dialect_insert() -> Any:
    return postgresql.insert if db.session.get_bind().dialect.name == "postgresql" else sqlite.insert


def _mark_then_count(case_id: int, answers: Answers) -> None:
    """The case's marker, then the counts, each in a transaction of its own: the marker's holds nothing that names
    the case (not the request's own writes, such as the reporter session's last-seen time), the counts' nothing
    else at all. The marker is inserted only if it is not there (its primary key decides, so of two answers sent at
    once, the second waits for the first and is refused)."""
    transactions.commit_apart()  # what the request wrote before is not in the marker's transaction
    inserted = db.session.execute(
        _dialect_insert()(CharacteristicsAnswered)
        .values(lookup=marker(case_id))
        .on_conflict_do_nothing(index_elements=["lookup"])
        .returning(CharacteristicsAnswered.lookup)  # nothing returned: the row was there already
    ).scalar_one_or_none()
    if inserted is None:
        raise AlreadyGiven(_("These questions have already been answered for this concern."))  # the API says it
    count_answers(answers)  # commits the marker apart, then the counts


@transactions.action
def give_for_case(case: Case, answers: Answers) -> None:
    """The person (or their guardian) answers later. Owns its transactions: the marker first, then the counts, so
    a second answer is refused even if two arrive at once, and neither is written with anything naming the case.

    Nothing on the case changes (not its version: a guardian's form open on the case stays valid). What the request
    wrote before (the reporter session's last-seen time) is committed first, apart, so a refusal keeps that."""
    if not answers:
        raise InvalidInput({FIELDS[0]: _("Choose at least one answer, or leave these questions")})
    _mark_then_count(case.id, answers)


def give_for_new_case(case_id: int, answers: Answers) -> None:
    """Answers given with a new concern, once the concern is committed: marked and counted in transactions of their
    own, after the concern's (``raising.raise_concern``). Nothing answered, nothing written."""
    if answers:
        _mark_then_count(case_id, answers)


def count_answers(answers: Answers) -> None:
    """Adds one to each answer's count for this quarter, in a transaction of its own (never the case's, nor any
    that follows). One upsert per answer, so two people answering at once both count."""
    if not answers:
        return
    transactions.commit_apart()  # what came before (the case's marker, say) is not in the counts' transaction
    quarter = quarters.quarter_of(clock.uk_today()).label
    insert = _dialect_insert()
    for key, value in sorted(answers.items()):
        statement = insert(CharacteristicCount).values(quarter=quarter, question=key, answer=value, count=1)
        db.session.execute(
            statement.on_conflict_do_update(
                index_elements=["quarter", "question", "answer"],
                set_={"count": CharacteristicCount.count + 1},
            )
        )
    transactions.commit_apart()


# The default floor; the app's setting CHARACTERISTICS_MIN_ANSWERS (speakup/defaults.py) is what callers pass.
MIN_ANSWERS = 10


@dataclass(frozen=True)
class Countable:
    """One quarter's answers as they may be shown anywhere (``countable``). ``ended`` False: nothing yet. Then
    ``counts`` holds (question, answer) -> count only for the questions in ``enough``; the others show nothing."""

    ended: bool
    counts: dict[tuple[str, str], int]
    enough: frozenset[str]


def countable(periods: Sequence[quarters.Quarter], today: date, min_answers: int = MIN_ANSWERS) -> dict[str, Countable]:
    """The one rule for showing these answers, by quarter label: every page, export and API goes through here.

    1. Only quarters that have ended (by UK time, the clock ``count_answers`` files answers by). A quarter's
       counts still change while it runs, so a guardian who looked before and after one concern was raised
       (its date and time are on the case) would read that person's answers as the difference. Once it has
       ended, nothing is added to it, so there is no before and after to compare.
    2. Only the questions at least ``min_answers`` people answered that quarter: fewer describe the few who gave
       them, even through the small-number suppression the report applies on top (five of six answering one way
       is shown). "Prefer not to say" is not an answer here and cannot be: it is never stored. Nor should it
       count: a person who declined tells nobody anything, so gives no cover to those who answered; nine
       declining beside one answering is still one person's answer.

    The counts of the quarter still running are not even read, so no caller can show them by mistake.
    """
    ended = [period for period in periods if period.end < today]
    raw = _counts_for([period.label for period in ended])
    result = {period.label: Countable(ended=False, counts={}, enough=frozenset()) for period in periods}
    for period in ended:
        counts = raw[period.label]
        answered: dict[str, int] = {}
        for (question, _answer), count in counts.items():
            answered[question] = answered.get(question, 0) + count
        enough = frozenset(question for question, total in answered.items() if total >= min_answers)
        shown = {key: count for key, count in counts.items() if key[0] in enough}
        result[period.label] = Countable(ended=True, counts=shown, enough=enough)
    return result


def _counts_for(labels: list[str]) -> dict[str, dict[tuple[str, str], int]]:
    """quarter label -> (question, answer) -> count, for the quarters asked: raw, so only ``countable`` reads it."""
    result: dict[str, dict[tuple[str, str], int]] = {label: {} for label in labels}
    if not labels:
        return result
    rows = db.session.execute(select(CharacteristicCount).where(CharacteristicCount.quarter.in_(labels))).scalars()
    for row in rows:
        result[row.quarter][(row.question, row.answer)] = row.count
    return result
