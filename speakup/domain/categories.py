"""The fixed lists the national Freedom to Speak Up return counts, versioned by reporting period.

A change of national guidance is one new ``ReturnLists`` entry; older quarters keep reporting under
the lists that applied then.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

ANONYMITY = ("anonymous", "confidential", "open")
ANONYMITY_LABELS = {
    "anonymous": "Anonymously",
    "confidential": "Confidentially",
    "open": "Openly",
}

# A yes/no question's answer as a form sends it ("yes", "no", or nothing), read the same way everywhere.
YES_NO = {"yes": True, "no": False}


def yes_no(answer: object) -> bool | None:
    """True, False, or None for no answer; a JSON true/false stays as it is (anything else is None)."""
    if isinstance(answer, bool):
        return answer
    return YES_NO.get(answer) if isinstance(answer, str) else None


# "Given your experience, would you speak up again?"
SPEAK_UP_AGAIN = {"yes": "Yes", "no": "No", "maybe": "Maybe", "dont_know": "I don't know"}


# How a concern reached the service: online (the form or the API), or recorded by a guardian who heard it some
# other way. A plain value, counted on the board report.
ONLINE = "online"
CHANNELS = {
    ONLINE: "Online",
    "in_person": "In person",
    "phone": "By phone",
    "email": "By email",
    "letter": "By letter",
    "champion": "Through a speak up champion",
    "other": "Other",
}
RECORDED_CHANNELS = {value: label for value, label in CHANNELS.items() if value != ONLINE}

# Who a referred case went to: a plain value counted on the board report (the note that goes with it is sealed).
REFERRALS = {
    "hr": "Human resources",
    "patient_safety": "Patient safety team",
    "safeguarding": "Safeguarding team",
    "external": "A regulator or other body outside the trust",
    "other": "Someone else",
}

# How a guardian closes a case. Plain values, so outcomes can be counted without any key.
OUTCOMES = {
    "resolved": "Resolved",
    "partly_resolved": "Partly resolved",
    "not_upheld": "Looked into – not upheld",
    "referred_elsewhere": "Passed to another process (for example HR or safeguarding)",
    "withdrawn": "Withdrawn by the person who raised it",
    "no_contact": "Closed – no reply from the person who raised it",
}
# A stage 2 case under Scotland's National Whistleblowing Standards closes with the Standards' own outcome of the
# investigation instead of the first three above (domain/stage_two.py has the source).
STANDARDS_OUTCOMES = {"upheld": "Upheld", "partly_upheld": "Partly upheld", "not_upheld": "Not upheld"}
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
            "allied_health_professionals": "Allied health professionals",
            "medical_and_dental": "Medical and dental",
            "registered_nurses_and_midwives": "Registered nurses and midwives",
            "nursing_or_healthcare_assistants": "Nursing or healthcare assistants",
            "additional_clinical_services": "Additional clinical services",
            "additional_professional_scientific_technical": "Additional professional, scientific and technical",
            "administrative_and_clerical": "Administrative and clerical",
            "estates_and_ancillary": "Estates and ancillary",
            "healthcare_scientists": "Healthcare scientists",
            "students": "Students",
            "corporate_services": "Corporate services",
            "other": "Other",
            "not_known": "Not known",
        },
        themes={
            "patient_safety": "Patient safety or quality",
            "worker_safety": "Worker safety or wellbeing",
            "bullying_harassment": "Bullying or harassment",
            "inappropriate_behaviour": "Inappropriate attitudes or behaviours",
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
