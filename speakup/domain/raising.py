"""Raising a concern: checking what the reporter typed, sealing it, wrapping its key for the roster."""

from __future__ import annotations

import json
import logging
import secrets
import unicodedata
from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import date

from sqlalchemy.exc import DBAPIError, IntegrityError

from speakup.crypto import access_codes, labels, sealing
from speakup.domain import characteristics, deadlines, submissions, workflow
from speakup.domain.categories import ANONYMITY, ONLINE, lists_for
from speakup.keys import exclusions, grants, recovery, roster
from speakup.ops import audit, notify
from speakup.platform import clock, languages, transactions
from speakup.platform.config import settings
from speakup.platform.inputs import InvalidInput, clean_text
from speakup.platform.models import (
    Case,
    CaseEvent,
    User,
    db,
    drop_failed_transaction,
    new_case_id,
)
from speakup.platform.translation import gettext as _
from speakup.platform.translation import lazy_gettext as _l
from speakup.platform.translation import ngettext

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ConcernInput:
    what_happened: str
    anonymity: str
    where: str = ""
    when: str = ""
    name: str = ""
    contact: str = ""
    worker_group: str = ""
    exclude_guardian: str = ""  # the id of a guardian who must never receive this concern
    # The voluntary answers about the person (domain/characteristics.py): counted apart, never stored with it.
    characteristics: tuple[tuple[str, str], ...] = ()


# What the person types; the characteristics come as one more field of their own ("characteristics").
CONCERN_FIELDS = tuple(name for name in ConcernInput.__dataclass_fields__ if name != "characteristics")


@dataclass(frozen=True)
class Voice:
    """The messages of the rules below, as the person who fills the form is addressed."""

    name: str
    contact: str
    what_happened: str
    anonymity: str
    name_needed: str
    leave_name_out: str
    leave_contact_out: str


# Made at import, so lazily translated: each message is in the language of the request that reads it (str()).
REPORTER = Voice(
    name=_l("Your name"),
    contact=_l("How to contact you"),
    what_happened=_l("Tell us what happened"),
    anonymity=_l("Choose how you want to raise this concern"),
    name_needed=_l("Enter your name, or choose to raise this anonymously"),
    leave_name_out=_l("Leave your name out if you want to stay anonymous, or choose another option"),
    leave_contact_out=_l("Leave contact details out if you want to stay anonymous, or choose another option"),
)
# A guardian recording a concern someone raised with them in person, by phone, email or letter.
GUARDIAN = Voice(
    name=_l("Their name"),
    contact=_l("How to contact them"),
    what_happened=_l("Enter what happened, in the person's words where you can"),
    anonymity=_l("Choose how the person wants to raise it"),
    name_needed=_l("Enter their name, or record it as raised anonymously"),
    leave_name_out=_l("Leave their name out of an anonymous concern, or choose another option"),
    leave_contact_out=_l("Leave contact details out of an anonymous concern, or choose another option"),
)


def check_concern(data: dict[str, object], voice: Voice = REPORTER) -> ConcernInput:
    """Applies every rule for a new concern in one place. Raises InvalidInput with all problems."""
    not_text = {
        key: _("%(field)s must be text", field=key)
        for key, value in data.items()
        if key != "characteristics" and not isinstance(value, str | None)
    }
    values = {key: clean_text(data.get(key)) for key in CONCERN_FIELDS}
    checked: dict[str, str] = {}
    for check in (_check_lengths, _check_anonymity, _check_choices):
        checked.update(check(values, voice))  # a later rule's message for the same field is the more useful one
    errors = not_text | {key: message for key, message in checked.items() if key not in not_text}
    answers: characteristics.Answers = {}
    try:
        answers = characteristics.check_answers(data.get("characteristics"), clock.uk_today())
    except InvalidInput as refused:
        errors |= refused.errors
    if errors:
        raise InvalidInput(errors)
    return ConcernInput(**values, characteristics=tuple(sorted(answers.items())))


def _check_lengths(values: dict[str, str], voice: Voice) -> dict[str, str]:
    limits = settings()
    errors = {}
    if not values["what_happened"]:
        errors["what_happened"] = str(voice.what_happened)
    elif len(values["what_happened"]) > limits.max_concern_chars:
        errors["what_happened"] = ngettext(
            "What happened must be %(number)s character or fewer",
            "What happened must be %(number)s characters or fewer",
            limits.max_concern_chars,
            number=f"{limits.max_concern_chars:,}",
        )
    short_limit = limits.max_short_field_chars
    for key, label in (("where", _("Where")), ("when", _("When")), ("name", voice.name), ("contact", voice.contact)):
        if len(values[key]) > short_limit:
            errors[key] = ngettext(
                "%(label)s must be %(num)d character or fewer",
                "%(label)s must be %(num)d characters or fewer",
                short_limit,
                label=label,
            )
    return errors


def _check_anonymity(values: dict[str, str], voice: Voice) -> dict[str, str]:
    anonymity = values["anonymity"]
    if anonymity not in ANONYMITY:
        return {"anonymity": str(voice.anonymity)}
    if anonymity != "anonymous":
        return {} if values["name"] else {"name": str(voice.name_needed)}
    # Nothing identifying is stored for an anonymous concern, so refuse rather than drop it silently.
    errors = {}
    if values["name"]:
        errors["name"] = str(voice.leave_name_out)
    if values["contact"]:
        errors["contact"] = str(voice.leave_contact_out)
    return errors


def _check_choices(values: dict[str, str], _voice: Voice) -> dict[str, str]:
    errors = {}
    if values["worker_group"] and values["worker_group"] not in lists_for(clock.uk_today()).worker_groups:
        errors["worker_group"] = _("Choose a staff group from the list")
    excluded = values["exclude_guardian"]
    if excluded and excluded not in {str(g.id) for g in excludable_guardians()}:
        errors["exclude_guardian"] = _("Choose a guardian from the list, or leave it empty")
    return errors


@dataclass(frozen=True)
class RaisedConcern:
    reference: str
    access_code: str = field(repr=False)  # never in a traceback or a test report
    status: str
    acknowledge_by: date


def _new_reference() -> str:
    # Unique in the schema: a clash is refused there and raise_concern tries again.
    return "SU-" + "".join(secrets.choice(access_codes.ALPHABET) for _ in range(8))


def excludable_guardians() -> list[roster.RosterMember]:
    """The guardians a concern would reach: those on the verified roster, by name. Never a pending or disabled
    account: an administrator could otherwise put any name before every reporter, and the list would tell anyone
    who is suspended. A concern raised while a guardian is disabled or pending is never wrapped for them at all.

    Each name is one a reporter can tell apart from the others (outside review r9, F1): two guardians whose names
    read the same (two staff who share a name, or a look-alike with a hidden character) are each named with their
    work address too, as the share page names them."""
    members = roster.current_roster().guardians()
    seen = Counter(_as_read(member.name) for member in members)
    told_apart = [
        replace(member, name=f"{member.name} ({member.email})") if seen[_as_read(member.name)] > 1 else member
        for member in members
    ]
    return sorted(told_apart, key=lambda member: (member.name, member.id))


def _as_read(name: str) -> str:
    """A name as a reader sees it: compatibility forms folded, case and spacing ignored, invisible characters gone."""
    folded = unicodedata.normalize("NFKC", name).casefold()
    return " ".join("".join(char for char in folded if unicodedata.category(char) not in ("Cf", "Cc")).split())


def excludable_guardians_if_readable() -> list[roster.RosterMember] | None:
    """``excludable_guardians``, or None while the database cannot be read: the raise form works without the list."""
    try:
        return excludable_guardians()
    except DBAPIError:
        drop_failed_transaction()
        return None


NEW_CASE_ATTEMPTS = 3


def known_language(code: object) -> str | None:
    """``code`` if it names a language of the fixed list (platform/languages.KNOWN), else None: never free text."""
    return code if isinstance(code, str) and code in languages.KNOWN else None


def raise_concern(
    concern: ConcernInput,
    channel: str = ONLINE,
    recorded_by: User | None = None,
    sent: submissions.Sent | None = None,
    language: str | None = None,
) -> RaisedConcern:
    """Stores a new concern sealed under a fresh case key, wrapped for every guardian on the verified roster,
    the recovery key and the reporter's access code. One transaction: all of it or none of it. Then, in a
    second, the person's answers about themselves are counted (if that one fails, the concern is still safe).

    ``recorded_by`` is the guardian who recorded a concern raised ``channel`` (in person, by phone...): it is
    assigned to them and audited as theirs.

    ``sent`` names the form or API request: if it already raised a concern, ``submissions.AlreadySent`` says which,
    and nothing new is raised (a double click, a reload, a retry).

    ``language`` is the code of the language the person was using; kept (sealed) only if it is on the fixed list."""
    submissions.check_not_sent(sent)
    excluded = (int(concern.exclude_guardian),) if concern.exclude_guardian else ()
    verified = roster.current_roster()
    guardians = verified.guardians(exclude_ids=excluded)
    if verified.recovery_key is None:
        raise recovery.RecoveryKeyMissing()
    recovery_key = verified.recovery_key
    for attempt in range(1, NEW_CASE_ATTEMPTS + 1):
        try:
            raised, case_id = _store_new_case(
                concern, guardians, recovery_key, excluded, (channel, recorded_by, known_language(language)), sent
            )
            break
        except IntegrityError:
            db.session.rollback()
            # The same form sent twice at once: the other send's row, committed first, refused this one's.
            submissions.check_not_sent(sent)
            # The random id or reference was already taken (about one raise in 20,000 at 100,000 cases):
            # draw new ones, with a new key and code, and try again.
            if attempt == NEW_CASE_ATTEMPTS:
                raise
        except Exception:
            db.session.rollback()
            raise
    # The guardians' emails are kept with the concern, in its transaction (speakup/ops/outbox.py sends them).
    notify.new_concern(guardians)
    # The concern is kept before anything else is tried: its code is about to be shown (the counts and a file
    # that follow can fail without losing it).
    transactions.commit_apart()
    try:
        # Marked as answered and counted apart from the concern's transaction: nothing on the case says it answered.
        characteristics.give_for_new_case(case_id, dict(concern.characteristics))
    except (DBAPIError, characteristics.AlreadyGiven):
        # The concern is stored and its code must still reach the person: a lost count is the lesser harm (and if its
        # marker was not kept either, the person is asked again on the follow-up page).
        db.session.rollback()
        logger.error("characteristics_not_counted")
    return raised


def seal_concern(case_id: int, reference: str, case_key: bytes, concern: ConcernInput) -> tuple[bytes, bytes | None]:
    """The concern's words and, unless it is anonymous, the name and contact given, sealed under the case key. The
    reference and the anonymity are sealed with the words, so neither can be changed in the database
    (reading.open_concern checks them)."""
    text = {"what_happened": concern.what_happened, "where": concern.where, "when": concern.when}
    text.update(reference=reference, anonymity=concern.anonymity)
    sealed_text = sealing.seal_text(case_key, json.dumps(text), labels.concern(case_id))
    if concern.anonymity == "anonymous":
        return sealed_text, None
    identity = {"name": concern.name, "contact": concern.contact}
    return sealed_text, sealing.seal_text(case_key, json.dumps(identity), labels.identity(case_id))


def _store_new_case(
    concern: ConcernInput,
    guardians: list[roster.RosterMember],
    recovery_key: bytes,
    excluded: tuple[int, ...],
    source: tuple[str, User | None, str | None],
    sent: submissions.Sent | None,
) -> tuple[RaisedConcern, int]:
    configured = settings()
    channel, recorded_by, language = source
    now = clock.minute_now()
    due = deadlines.for_new_concern(now, configured.deadline_config)
    access_code = access_codes.new_access_code()
    normalised = access_codes.normalise_access_code(access_code)
    case = Case(
        id=new_case_id(),
        reference=_new_reference(),
        access_lookup_id=access_codes.access_code_lookup_id(configured.token_pepper, normalised),
        status=workflow.RECEIVED,
        anonymity=concern.anonymity,
        channel=channel,
        assigned_to_id=recorded_by.id if recorded_by else None,
        worker_group=concern.worker_group or None,
        created_at=now,
        updated_at=now,
        acknowledge_by=due.acknowledge_by,
        feedback_by=due.feedback_by,
        stage=due.stage,
        protocol=sealing.PROTOCOL,
    )
    case.next_due = case.acknowledge_by
    # All the cryptography first: the id is known, so nothing below waits for the database or holds it.
    case_key = sealing.new_case_key()
    case.concern_ct, case.identity_ct = seal_concern(case.id, case.reference, case_key, concern)
    case.exclusions_ct = exclusions.seal_exclusions(case.id, case_key, excluded)
    if language is not None:
        case.language_ct = sealing.seal_text(case_key, language, labels.language(case.id))
    rows = grants.wrap_new_case_key(case.id, case_key, guardians, recovery_key, normalised)
    # Then the writes, as short as they can be: on SQLite the first INSERT takes the database's write lock.
    db.session.add(case)
    db.session.add(CaseEvent(case_id=case.id, kind="raised", to_status=case.status, created_at=now))
    grants.store_grants(rows)
    code = grants.code_generation_of(case, configured.token_pepper)
    if recorded_by is None:
        audit.record(audit.Action.CASE_RAISED, audit.Actor.REPORTER, case_id=case.id, code_generation=code)
    else:
        audit.record(
            audit.Action.CASE_RECORDED,
            audit.Actor.GUARDIAN,
            recorded_by.id,
            case_id=case.id,
            channel=channel,
            code_generation=code,
        )
    raised = RaisedConcern(case.reference, access_code, case.status, case.acknowledge_by)
    if sent is not None:
        answer = submissions.Answer(
            reference=raised.reference,
            access_code=access_code,
            status=raised.status,
            acknowledge_by=raised.acknowledge_by,
            fingerprint=sent.fingerprint,
        )
        db.session.add(submissions.row_for(sent, answer, now))
    db.session.flush()  # a random id or reference already taken, or this form already sent, is found here
    return raised, case.id
