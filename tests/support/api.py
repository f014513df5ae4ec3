"""The reporter's side of the JSON API as the API tests use it (tests/api/): the follow-up calls with an access code,
what the database holds for a case, and codes that open nothing."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from werkzeug.test import TestResponse

from speakup.crypto import access_codes
from speakup.platform.models import Case, db
from support.openapi import API
from support.present import scalar

ONE_MIB = 1024 * 1024
CONTRACT_FOLLOW_UP_FIELDS = {
    "reference",
    "status",
    "status_label",
    "created_at",
    "acknowledge_by",
    "feedback_by",
    "messages",
    "feedback_requested",
}


def bearer(code: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {code}"}


def follow_up(api: FlaskClient, code: str, **kwargs: Any) -> TestResponse:
    return api.get(f"{API}/follow-up", headers=bearer(code), **kwargs)


def reply(api: FlaskClient, code: str, body: object, **kwargs: Any) -> TestResponse:
    return api.post(f"{API}/follow-up/messages", headers=bearer(code), json={"body": body}, **kwargs)


def feedback(api: FlaskClient, code: str, answer: Mapping[str, object], **kwargs: Any) -> TestResponse:
    return api.post(f"{API}/follow-up/feedback", headers=bearer(code), json=answer, **kwargs)


def utc_today() -> date:
    return datetime.now(UTC).date()


def case_count(app: Flask) -> int:
    with app.app_context():
        return scalar(select(func.count()).select_from(Case))


def stored_case(app: Flask, reference: str) -> dict[str, Any]:
    with app.app_context():
        case = db.session.scalar(select(Case).where(Case.reference == reference))
        assert case is not None
        return {
            "status": case.status,
            "speak_up_again": case.speak_up_again,
            "detriment": case.detriment_reported,
            "feedback_at": case.feedback_at,
            "identity_ct": case.identity_ct,
            "version": case.version,
        }


def wrong_code() -> str:
    """Well formed, passes its check character, opens nothing."""
    return access_codes.new_access_code()


def one_character_changed(code: str) -> str:
    """The same code with its first character swapped for another from the alphabet (check character kept)."""
    first = code[0]
    other = access_codes.ALPHABET[(access_codes.ALPHABET.index(first) + 1) % len(access_codes.ALPHABET)]
    return other + code[1:]
