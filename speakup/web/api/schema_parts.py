"""Pieces the OpenAPI document is built from: common schemas and the answer and error entries. A piece with words for
a person is a function, called while the document is built for a request, so its words are in the request's language
(Accept-Language); names, patterns and formats are the same in every language."""

from __future__ import annotations

from typing import Any

from speakup.platform.translation import gettext as _

TEXT = {"type": "string"}
# The server trims text before it checks it, so "required text" means "has a non-blank character" and an
# optional field may be blank or null (both mean "not given"). The schemas say exactly that, so a client
# (or a fuzzer) can tell from the document alone what will be accepted.
NOT_BLANK = r"\S"
BLANK = {"anyOf": [{"type": "null"}, {"type": "string", "pattern": r"^\s*$"}]}
DATE = {"type": "string", "format": "date"}
DATETIME = {"type": "string", "format": "date-time"}


def signposting() -> dict[str, Any]:
    return {
        "type": ["object", "null"],
        "description": _(
            "Under Scotland's National Whistleblowing Standards, once a stage 2 concern raised with a name is closed "
            "(whatever it closed with): the Independent National Whistleblowing Officer, who can normally look at it "
            "up to 12 months after the person became aware of the matter (refer_by counts from the day it was "
            "raised). null for any other case."
        ),
        "required": ["body", "web", "refer_by"],
        "properties": {"body": TEXT, "web": {"type": "string", "format": "uri"}, "refer_by": DATE},
    }


def json_content(schema_ref: str) -> dict[str, Any]:
    return {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema_ref}"}}}


def answer(description: str, schema_ref: str) -> dict[str, Any]:
    """An answer's entry; ``description`` already in the request's language."""
    return {"description": description, "content": json_content(schema_ref)}


def errors(*statuses: int) -> dict[str, Any]:
    """Each status's entry, described in the request's language (Accept-Language)."""
    texts = {
        400: _("Malformed request"),
        401: _("Wrong or missing access code"),
        409: _("Conflicts with the case's state"),
        413: _("Body larger than 1 MiB"),
        415: _("Body is not JSON"),
        422: _("Fields invalid or unknown"),
        429: _("Too many requests; see Retry-After"),
        503: _("Service unavailable"),
    }
    return {str(s): answer(texts[s], "Error") for s in statuses}


def optional_text(max_chars: int, description: str) -> dict[str, Any]:
    return {"type": ["string", "null"], "maxLength": max_chars, "description": description}


def idempotency_key() -> dict[str, Any]:
    """Raising a concern once, however often a client retries (speakup/domain/submissions.py)."""
    return {
        "name": "Idempotency-Key",
        "in": "header",
        "required": False,
        "description": _(
            "A random key (a UUID) of your own. Sent again with the same body within a day (the setting "
            "SUBMISSION_HOURS), it raises nothing new and answers with the first concern and its access code, marked "
            "Idempotent-Replayed: true; sent with a different body, 409."
        ),
        "schema": {"type": "string", "minLength": 16, "maxLength": 255, "pattern": "^[!-~]+$"},
    }


def accept_language() -> dict[str, Any]:
    return {
        "name": "Accept-Language",
        "in": "header",
        "required": False,
        "description": _(
            "The language the person is using (for example cy, en). Messages in the answer are in it when it is "
            "offered; a concern raised keeps it sealed with the case (a code from a fixed list, else nothing) and "
            "shows it to the guardians who can open it, so they can arrange an interpreter. Any value is accepted: "
            "one naming no language offered answers in the default language and keeps nothing."
        ),
        "schema": {"type": "string"},
    }


def replayed() -> dict[str, Any]:
    return {
        "Idempotent-Replayed": {
            "description": _("true when this answers a repeat of an earlier request"),
            "schema": {"type": "string", "enum": ["true"]},
        }
    }
