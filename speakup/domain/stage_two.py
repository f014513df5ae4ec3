"""Scotland's stage 2 response: what a guardian must give, and where the person can go next.

Source: the Independent National Whistleblowing Officer (INWO), National Whistleblowing Standards for the NHS in
Scotland (in force from 1 April 2021), the whistleblowing procedure's stage 2 ("investigation"), and the INWO's
reminder about stage 2 responses: at the end of an investigation the organisation gives the person a written
response that sets out the findings and conclusions and how they were reached, states the outcome (upheld or not
upheld), apologises where things went wrong, describes the action planned, is clear that it is the organisation's
final decision, names a member of staff they can speak to about it, and signposts to the INWO. The INWO cannot
normally look at a concern more than 12 months after the person became aware of the matter ("Time limits for
raising concerns with the INWO"). Anonymous concerns are not covered by the Standards: their protections and the
INWO's review need the person to be named, confidentially at least (the INWO's FAQs).

Pure rules: the caller (domain/handling.py) applies them when a case closes; the pages read ``signposting``.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import date

from dateutil.relativedelta import relativedelta

from speakup.domain import deadlines, workflow
from speakup.domain.categories import OUTCOMES as GENERAL_OUTCOMES
from speakup.domain.categories import STANDARDS_OUTCOMES as OUTCOMES
from speakup.platform import clock
from speakup.platform.config import settings
from speakup.platform.models import Case
from speakup.platform.translation import gettext as _
from speakup.platform.translation import lazy_gettext as _l

# A case withdrawn, or whose person stopped answering, ends without a stage 2 response (and so without the parts
# below or the signposting).
ENDED_WITHOUT_RESPONSE = ("withdrawn", "no_contact")
OUTCOME_REQUIRED = _l("Choose upheld, partly upheld or not upheld (the Standards' outcomes)")

# The parts of the response the guardian confirms their closing message gives (form field -> what it is).
PARTS = {
    "part_findings": _l("The findings and conclusions, and how they were reached"),
    "part_apology": _l("An apology where things went wrong (or why none is owed)"),
    "part_actions": _l("The action the organisation plans as a result"),
    "part_final": _l("That this is the organisation's final decision"),
}
CONTACT_LIMIT = 200

INWO_NAME = "Independent National Whistleblowing Officer"  # a body's name: never translated
INWO_WEB = "https://inwo.spso.org.uk"
REFERRAL_MONTHS = 12


@dataclass(frozen=True)
class Signposting:
    """Where the person can take a concern the organisation has answered at stage 2, and until when."""

    body: str
    web: str
    refer_by: date  # 12 months from the UK day the concern was raised (they may have known of it earlier)


def applies(stage: int | None) -> bool:
    """Whether a case at ``stage`` closes with a stage 2 response: the Scottish rules, stage 2."""
    return deadlines.stage_of(stage, settings().deadline_config) == 2


def outcome_choices(stage: int | None) -> dict[str, str]:
    """The outcomes a case at ``stage`` may close with: the Standards' at stage 2 in Scotland, the general ones
    otherwise; ending without a response (withdrawn, no reply) is open to both."""
    if not applies(stage):
        return GENERAL_OUTCOMES
    return {**OUTCOMES, **{key: GENERAL_OUTCOMES[key] for key in ENDED_WITHOUT_RESPONSE}}


def check_response(outcome: object, confirmed: Collection[str], named_contact: str) -> dict[str, str]:
    """What is missing from a stage 2 closing, by form field (empty when it is whole)."""
    if outcome in ENDED_WITHOUT_RESPONSE:
        return {}
    errors: dict[str, str] = {}
    if outcome not in OUTCOMES:
        errors["outcome"] = str(OUTCOME_REQUIRED)
    missing = [str(words) for field, words in PARTS.items() if field not in confirmed]
    if missing:
        parts = "; ".join(words[0].lower() + words[1:] for words in missing)
        errors["response_parts"] = _(
            "Check your closing message gives each part of the response: %(parts)s", parts=parts
        )
    if not named_contact:
        errors["named_contact"] = _("Name someone the person can speak to about this response")
    elif len(named_contact) > CONTACT_LIMIT:
        errors["named_contact"] = _("Keep the name and how to reach them to %(limit)s characters", limit=CONTACT_LIMIT)
    return errors


def with_named_contact(message: str, named_contact: str) -> str:
    """The closing message as the person reads it: the Standards ask that it names someone to speak to. Sealed into
    the message as it is stored, so in English: the person may read the case in another language than the guardian
    who closed it."""
    return f"{message}\n\nIf anything in this response is unclear, you can speak to: {named_contact}"


ANONYMOUS_NOT_COVERED = _l(
    "Anonymous concerns are not covered by the National Whistleblowing Standards: their protections, and review by "
    "the Independent National Whistleblowing Officer if you are unhappy with the answer, need your name. Raising it "
    "confidentially is enough: your name is then kept by the guardian and shared only if you agree."
)


def anonymous_warning() -> str | None:
    """What a person choosing how to raise a concern must know first under the Scottish rules (None elsewhere)."""
    return str(ANONYMOUS_NOT_COVERED) if settings().deadline_rules == "scotland" else None


def signposting(case: Case) -> Signposting | None:
    """The INWO's address and the date its 12 months run out, for a closed stage 2 case raised with a name,
    whatever it closed with: the INWO also looks at how a concern was handled, so a case closed as withdrawn or
    unanswered says so too (a guardian alone could otherwise close one that way and the person never hear of the
    INWO). None for any other case."""
    if case.status != workflow.CLOSED or case.anonymity == "anonymous" or not applies(case.stage):
        return None
    raised_on = clock.uk_date(case.created_at)
    return Signposting(INWO_NAME, INWO_WEB, raised_on + relativedelta(months=REFERRAL_MONTHS))
