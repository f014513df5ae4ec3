"""The fixed lists the national Freedom to Speak Up return counts, versioned by reporting period.

A change of national guidance is one new ``ReturnLists`` entry; older quarters keep reporting under
the lists that applied then.

Each choice is stored and counted by its key; only its label is translated (issue 28, lazily: in the language of
whoever reads it), so no count or export depends on a language.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from speakup.platform.translation import lazy_gettext as _l

ANONYMITY = ("anonymous", "confidential", "open")
ANONYMITY_LABELS: dict[str, str] = {
    "anonymous": _l("Anonymously"),
    "confidential": _l("Confidentially"),
    "open": _l("Openly"),
}

# A yes/no question's answer as a form sends it ("yes", "no", or nothing), read the same way everywhere.
YES_NO = {"yes": True, "no": False}


def yes_no(answer: object) -> bool | None:
    """True, False, or None for no answer; a JSON true/false stays as it is (anything else is None)."""
    if isinstance(answer, bool):
        return answer
    return YES_NO.get(answer) if isinstance(answer, str) else None


# "Given your experience, would you speak up again?"
SPEAK_UP_AGAIN: dict[str, str] = {
    "yes": _l("Yes"),
    "no": _l("No"),
    "maybe": _l("Maybe"),
    "dont_know": _l("I don't know"),
}


# How a concern reached the service: online (the form or the API), or recorded by a guardian who heard it some
# other way. A plain value, counted on the board report.
ONLINE = "online"
CHANNELS: dict[str, str] = {
    ONLINE: _l("Online"),
    "in_person": _l("In person"),
    "phone": _l("By phone"),
    "email": _l("By email"),
    "letter": _l("By letter"),
    "champion": _l("Through a speak up champion"),
    "other": _l("Other"),
}
RECORDED_CHANNELS = {value: label for value, label in CHANNELS.items() if value != ONLINE}

# Who a referred case went to: a plain value counted on the board report (the note that goes with it is sealed).
REFERRALS: dict[str, str] = {
    "hr": _l("Human resources"),
    "patient_safety": _l("Patient safety team"),
    "safeguarding": _l("Safeguarding team"),
    "external": _l("A regulator or other body outside the trust"),
    "other": _l("Someone else"),
}

# How a guardian closes a case. Plain values, so outcomes can be counted without any key.
OUTCOMES: dict[str, str] = {
    "resolved": _l("Resolved"),
    "partly_resolved": _l("Partly resolved"),
    "not_upheld": _l("Looked into – not upheld"),
    "referred_elsewhere": _l("Passed to another process (for example HR or safeguarding)"),
    "withdrawn": _l("Withdrawn by the person who raised it"),
    "no_contact": _l("Closed – no reply from the person who raised it"),
}
# A stage 2 case under Scotland's National Whistleblowing Standards closes with the Standards' own outcome of the
# investigation instead of the first three above (domain/stage_two.py has the source).
STANDARDS_OUTCOMES: dict[str, str] = {
    "upheld": _l("Upheld"),
    "partly_upheld": _l("Partly upheld"),
    "not_upheld": _l("Not upheld"),
}
OUTCOME_LABELS = {**OUTCOMES, **STANDARDS_OUTCOMES}


@dataclass(frozen=True)
class ReturnLists:
    starts: date
    worker_groups: dict[str, str]  # value -> label
    themes: dict[str, str]  # value -> label; a case may have several


_LISTS = (
    ReturnLists(
        starts=date(2024, 4, 1),
        worker_groups={
            "allied_health_professionals": _l("Allied health professionals"),
            "medical_and_dental": _l("Medical and dental"),
            "registered_nurses_and_midwives": _l("Registered nurses and midwives"),
            "nursing_or_healthcare_assistants": _l("Nursing or healthcare assistants"),
            "additional_clinical_services": _l("Additional clinical services"),
            "additional_professional_scientific_technical": _l("Additional professional, scientific and technical"),
            "administrative_and_clerical": _l("Administrative and clerical"),
            "estates_and_ancillary": _l("Estates and ancillary"),
            "healthcare_scientists": _l("Healthcare scientists"),
            "students": _l("Students"),
            "corporate_services": _l("Corporate services"),
            "other": _l("Other"),
            "not_known": _l("Not known"),
        },
        themes={
            "patient_safety": _l("Patient safety or quality"),
            "worker_safety": _l("Worker safety or wellbeing"),
            "bullying_harassment": _l("Bullying or harassment"),
            "inappropriate_behaviour": _l("Inappropriate attitudes or behaviours"),
        },
    ),
)


def lists_for(day: date) -> ReturnLists:
    """The lists in force on a given day (the earliest list also covers anything before it)."""
    current = _LISTS[0]
    for entry in _LISTS:
        if entry.starts <= day:
            current = entry
    return current
