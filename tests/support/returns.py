"""The national return's seeded quarters: case rows written straight to the database with chosen counted fields,
the counts expected of them (hand-counted), and readers for the CSV and the export records."""

from __future__ import annotations

import csv
import io
import itertools
import json
import uuid
from datetime import datetime, timedelta
from typing import Any

from flask import Flask
from sqlalchemy import select

from speakup.domain import categories
from speakup.domain.quarters import parse_quarter
from speakup.platform.models import AuditEvent, Case, CaseTheme, db

_numbers = itertools.count(1)


# --- Seeding: case rows written straight to the database, with chosen counted fields -----------------


def seed(
    created_at: datetime,
    anonymity: str = "confidential",
    worker_group: str | None = None,
    themes: tuple[str, ...] = (),
    detriment: bool | None = None,
    speak_up_again: str | None = None,
    feedback_at: datetime | None = None,
    purged: bool = False,
) -> None:
    number = next(_numbers)
    case = Case(
        reference=f"SEED-{number:06d}",
        access_lookup_id=uuid.uuid4().hex,
        status="closed" if feedback_at else "received",
        anonymity=anonymity,
        worker_group=worker_group,
        created_at=created_at,
        updated_at=created_at,
        acknowledge_by=created_at.date() + timedelta(days=7),
        feedback_by=created_at.date() + timedelta(days=90),
        detriment_reported=detriment,
        speak_up_again=speak_up_again,
        feedback_at=feedback_at,
        purged_at=created_at + timedelta(days=200) if purged else None,
        concern_ct=None if purged else b"\x01sealed",
        protocol="speakup-v1",
    )
    case.themes = [CaseTheme(theme=theme) for theme in themes]
    db.session.add(case)


NURSES = "registered_nurses_and_midwives"
MEDICAL = "medical_and_dental"
STUDENTS = "students"
OTHER = "other"


def seed_quarters() -> None:
    """Times are UTC, as stored. UK time is an hour ahead in summer (BST), so 31 March 23:30 UTC is already
    1 April in the UK. The comment on each row says which quarter it counts in, by UK time."""
    # 2025Q4: 31 December 23:30 GMT is still 2025.
    seed(datetime(2025, 12, 31, 23, 30), worker_group=NURSES)
    # 2026Q1 (31 March 22:30 UTC is 23:30 BST, still March)
    seed(
        datetime(2026, 3, 31, 22, 30),
        anonymity="anonymous",
        worker_group=OTHER,
        themes=("worker_safety",),
        speak_up_again="yes",
        feedback_at=datetime(2026, 4, 5, 10, 0),  # feedback in Q2
    )
    seed(
        datetime(2026, 2, 1, 12, 0),
        worker_group=NURSES,
        speak_up_again="no",
        feedback_at=datetime(2026, 3, 31, 22, 59),  # 23:59 BST on 31 March: feedback in Q1
    )
    # 2026Q2
    seed(
        datetime(2026, 3, 31, 23, 30),  # 00:30 BST on 1 April
        anonymity="anonymous",
        worker_group=NURSES,
        themes=("patient_safety",),
        detriment=True,
        speak_up_again="maybe",
        feedback_at=datetime(2026, 6, 15, 9, 0),  # Q2
    )
    seed(
        datetime(2026, 4, 10, 9, 0),
        anonymity="anonymous",
        worker_group=NURSES,
        themes=("patient_safety", "bullying_harassment"),
        speak_up_again="yes",
        feedback_at=datetime(2026, 7, 2, 9, 0),  # Q3
    )
    seed(
        datetime(2026, 4, 20, 9, 0),
        worker_group=MEDICAL,
        themes=("worker_safety",),
        detriment=False,
        speak_up_again="no",
        feedback_at=datetime(2026, 5, 30, 9, 0),  # Q2
    )
    seed(
        datetime(2026, 5, 5, 9, 0),
        anonymity="open",
        worker_group=None,
        themes=("inappropriate_behaviour", "bullying_harassment"),
        detriment=True,
    )
    seed(datetime(2026, 5, 15, 9, 0), worker_group=STUDENTS, purged=True)
    seed(
        datetime(2026, 6, 30, 22, 30),  # 23:30 BST on 30 June: still Q2
        worker_group=NURSES,
        themes=("patient_safety",),
        purged=True,
        speak_up_again="yes",
        feedback_at=datetime(2026, 6, 30, 23, 30),  # 00:30 BST on 1 July: feedback in Q3
    )
    seed(datetime(2026, 6, 1, 9, 0), worker_group="a_group_from_other_guidance")
    # 2026Q3
    seed(
        datetime(2026, 6, 30, 23, 0),  # exactly midnight BST starting 1 July
        speak_up_again="yes",
        feedback_at=datetime(2026, 9, 30, 23, 0),  # exactly midnight BST starting 1 October: feedback in Q4
    )
    seed(
        datetime(2026, 6, 30, 23, 30),  # 00:30 BST on 1 July
        anonymity="anonymous",
        worker_group=STUDENTS,
        themes=("patient_safety",),
    )
    db.session.commit()


def all_zero(quarter: str) -> dict[str, int]:
    lists = categories.lists_for(parse_quarter(quarter).start)
    return {
        "cases_raised": 0,
        "raised_anonymously": 0,
        **{f"theme:{theme}": 0 for theme in lists.themes},
        "detriment_reported": 0,
        **{f"worker_group:{group}": 0 for group in lists.worker_groups},
        "worker_group_not_recorded": 0,
        "feedback_responses": 0,
        "feedback_would_speak_up_again": 0,
        "detriment_after_closure": 0,
    }


# Hand-counted from seed_quarters().
EXPECTED: dict[str, dict[str, int]] = {
    "2025Q4": {"cases_raised": 1, f"worker_group:{NURSES}": 1},
    "2026Q1": {
        "cases_raised": 2,
        "raised_anonymously": 1,
        "theme:worker_safety": 1,
        f"worker_group:{OTHER}": 1,
        f"worker_group:{NURSES}": 1,
        "feedback_responses": 1,  # the "no" on 31 March 23:59 BST
    },
    "2026Q2": {
        "cases_raised": 7,
        "raised_anonymously": 2,
        "theme:patient_safety": 3,
        "theme:worker_safety": 1,
        "theme:bullying_harassment": 2,
        "theme:inappropriate_behaviour": 1,
        "detriment_reported": 2,
        f"worker_group:{NURSES}": 3,
        f"worker_group:{MEDICAL}": 1,
        f"worker_group:{STUDENTS}": 1,
        "worker_group_not_recorded": 2,  # one with none, one with a value outside this period's list
        "feedback_responses": 3,  # yes (a Q1 case), maybe, no
        "feedback_would_speak_up_again": 1,
    },
    "2026Q3": {
        "cases_raised": 2,
        "raised_anonymously": 1,
        "theme:patient_safety": 1,
        f"worker_group:{STUDENTS}": 1,
        "worker_group_not_recorded": 1,
        "feedback_responses": 2,
        "feedback_would_speak_up_again": 2,
    },
    "2026Q4": {"feedback_responses": 1, "feedback_would_speak_up_again": 1},
}


def read_csv(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


def audit_details(app: Flask, action: str) -> list[dict[str, Any]]:
    with app.app_context():
        rows = db.session.scalars(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id))
        return [{"actor_type": r.actor_type, "actor_id": r.actor_id, **json.loads(r.detail)} for r in rows]


def expected_csv_rows(quarter: str, published: bool = True) -> list[list[str]]:
    """The return's rows for a seeded quarter: exact counts for submission, or as published (1 to 4 shown as <5)."""
    lists = categories.lists_for(parse_quarter(quarter).start)
    counts = {**all_zero(quarter), **EXPECTED[quarter]}
    labels = {
        "cases_raised": "Cases raised",
        "raised_anonymously": "Cases raised anonymously",
        **{f"theme:{k}": f"Cases with an element of {v[0].lower()}{v[1:]}" for k, v in lists.themes.items()},
        "detriment_reported": "Cases where the person reported detriment for speaking up",
        **{f"worker_group:{k}": f"Worker group: {v}" for k, v in lists.worker_groups.items()},
        "worker_group_not_recorded": "Worker group: not recorded",
        "feedback_responses": "Feedback responses",
        "feedback_would_speak_up_again": "Feedback responses saying they would speak up again",
        "detriment_after_closure": "Check-ins after closing where the person reported detriment for speaking up",
    }
    shown = {k: "<5" if published and 0 < v < 5 else str(v) for k, v in counts.items()}
    return [["measure", "value"]] + [[labels[k], value] for k, value in shown.items()]


