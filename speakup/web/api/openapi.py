"""The OpenAPI 3.1 document for JSON API v1. Tests check it covers every API route and that
real answers match its schemas, so it cannot drift from the code unnoticed. It is built for each request, so every
text in it for a person is in the request's language (Accept-Language), names, enum values and formats in none."""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import current_app

from speakup.domain import characteristics, workflow
from speakup.domain.categories import ANONYMITY, SPEAK_UP_AGAIN, lists_for
from speakup.platform import clock
from speakup.platform.models import Author
from speakup.platform.translation import gettext as _
from speakup.web.api.openapi_stats import stats_paths, stats_schemas, stats_security_schemes
from speakup.web.api.schema_parts import (
    BLANK,
    DATE,
    DATETIME,
    NOT_BLANK,
    TEXT,
    accept_language,
    answer,
    errors,
    idempotency_key,
    json_content,
    optional_text,
    replayed,
    signposting,
)


def _characteristics_schemas(day: date) -> dict[str, Any]:
    """The voluntary questions about the person: with a new concern (any may be left out, blank or null), and
    later on their own (at least one must be answered)."""
    questions = characteristics.questions_for(day)
    answers = {q.key: {"enum": list(q.answers), "description": str(q.label)} for q in questions}
    kept = characteristics.HOW_ANSWERS_ARE_KEPT
    return {
        "Characteristics": {
            "type": ["object", "null"],
            "additionalProperties": False,
            "description": _(
                "Optional answers about the person raising the concern, by question (see /options). %(kept)s Leave "
                "a question out, blank or null to prefer not to say.",
                kept=kept,
            ),
            "properties": {key: {"anyOf": [schema, BLANK]} for key, schema in answers.items()},
        },
        "LaterCharacteristics": {
            "type": "object",
            "additionalProperties": False,
            "description": _(
                "Optional answers about the person raising the concern, by question (see /options). %(kept)s "
                "Answered once per concern: again is 409. At least one answer.",
                kept=kept,
            ),
            "properties": {key: {"anyOf": [schema, BLANK]} for key, schema in answers.items()},
            "anyOf": [{"required": [key], "properties": {key: schema}} for key, schema in answers.items()],
        },
    }


def openapi_document() -> dict[str, Any]:
    bearer: list[dict[str, list[str]]] = [{"accessCode": []}]
    config = current_app.config
    short, concern_chars, message_chars = (
        config["MAX_SHORT_FIELD_CHARS"],
        config["MAX_CONCERN_CHARS"],
        config["MAX_MESSAGE_CHARS"],
    )
    worker_groups = list(lists_for(clock.uk_today()).worker_groups)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": _("Speak Up reporter API"),
            "version": "1",
            "description": _("Raise a concern and follow it up with its access code. No cookies are used."),
        },
        "servers": [{"url": "/api/v1"}],
        "components": {
            "securitySchemes": {
                "accessCode": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": _("The access code shown once when the concern was raised."),
                },
                **stats_security_schemes(),
            },
            "schemas": {
                "Error": {
                    "type": "object",
                    "required": ["error"],
                    "properties": {
                        "error": {
                            "type": "object",
                            "required": ["code", "message"],
                            "properties": {
                                "code": TEXT,
                                "message": TEXT,
                                "fields": {"type": "object", "additionalProperties": TEXT},
                            },
                        }
                    },
                },
                "Options": {
                    "type": "object",
                    "required": ["anonymity", "worker_groups"],
                    "properties": {
                        "anonymity": {"type": "array", "items": {"enum": list(ANONYMITY)}},
                        "worker_groups": {"type": "array", "items": TEXT},
                        "guardians": {
                            "type": "array",
                            "description": _("Guardians a reporter may keep out of their concern (exclude_guardian)"),
                            "items": {
                                "type": "object",
                                "required": ["id", "name"],
                                "properties": {"id": TEXT, "name": TEXT},
                            },
                        },
                        "characteristics": {
                            "type": "array",
                            "description": _("The voluntary questions about the person, and their answers"),
                            "items": {
                                "type": "object",
                                "required": ["key", "question", "answers"],
                                "properties": {
                                    "key": TEXT,
                                    "question": TEXT,
                                    "answers": {"type": "array", "items": TEXT},
                                },
                            },
                        },
                    },
                },
                **_characteristics_schemas(clock.uk_today()),
                "NewConcern": {
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["what_happened", "anonymity"],
                    "properties": {
                        "what_happened": {"type": "string", "pattern": NOT_BLANK, "maxLength": concern_chars},
                        "where": optional_text(short, _("Where it happened")),
                        "when": optional_text(short, _("When it happened")),
                        "anonymity": {"enum": list(ANONYMITY)},
                        "name": optional_text(short, _("Required unless anonymous; refused when anonymous.")),
                        "contact": optional_text(short, _("Refused when anonymous.")),
                        "worker_group": {
                            "anyOf": [{"enum": worker_groups}, BLANK],
                            "description": _("One of /options worker_groups; blank or null when not given."),
                        },
                        "exclude_guardian": {
                            "anyOf": [{"type": "string"}, {"type": "null"}],
                            "description": _(
                                "The id (from /options) of a guardian who must never receive this concern; blank or "
                                "null for none. An id that is not a current guardian's gets 422."
                            ),
                        },
                        "characteristics": {"$ref": "#/components/schemas/Characteristics"},
                    },
                    # Nothing identifying is stored for an anonymous concern: a name or contact is refused
                    # rather than dropped. Confidential and open concerns need a name.
                    "if": {"required": ["anonymity"], "properties": {"anonymity": {"const": "anonymous"}}},
                    "then": {"properties": {"name": BLANK, "contact": BLANK}},
                    "else": {"required": ["name"], "properties": {"name": {"type": "string", "pattern": NOT_BLANK}}},
                },
                "RaisedConcern": {
                    "type": "object",
                    "required": ["reference", "access_code", "status", "acknowledge_by"],
                    "properties": {
                        "reference": TEXT,
                        "access_code": {**TEXT, "description": _("Shown once. Never stored; cannot be recovered.")},
                        "status": {"const": "received"},
                        "acknowledge_by": DATE,
                    },
                },
                "Message": {
                    "type": "object",
                    "required": ["author", "body", "created_at"],
                    "properties": {
                        "author": {"enum": [author.value for author in Author]},
                        "body": TEXT,
                        "created_at": DATETIME,
                    },
                },
                "FollowUp": {
                    "type": "object",
                    "required": [
                        "reference",
                        "status",
                        "status_label",
                        "created_at",
                        "acknowledge_by",
                        "feedback_by",
                        "messages",
                        "feedback_requested",
                        "check_in_requested",
                        "characteristics_asked",
                        "extensions",
                        "signposting",
                    ],
                    "properties": {
                        "reference": TEXT,
                        "status": {"enum": list(workflow.REPORTER_LABELS)},
                        "status_label": TEXT,
                        "created_at": DATETIME,
                        "acknowledge_by": DATE,
                        "feedback_by": DATE,
                        "messages": {"type": "array", "items": {"$ref": "#/components/schemas/Message"}},
                        "feedback_requested": {"type": "boolean"},
                        "check_in_requested": {
                            "type": "boolean",
                            "description": _(
                                "A check-in after closing is waiting: Since your case was closed, have you suffered "
                                "detriment for speaking up?"
                            ),
                        },
                        "characteristics_asked": {
                            "type": "boolean",
                            "description": _(
                                "The voluntary questions about the person are not answered yet "
                                "(POST /follow-up/characteristics)"
                            ),
                        },
                        "extensions": {
                            "type": "array",
                            "description": _("Each time the guardian moved the date to respond by later, and why"),
                            "items": {
                                "type": "object",
                                "required": ["created_at", "to_date", "reason"],
                                "properties": {"created_at": DATETIME, "to_date": DATE, "reason": TEXT},
                            },
                        },
                        "signposting": signposting(),
                    },
                },
                "NewMessage": {
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["body"],
                    "properties": {"body": {"type": "string", "pattern": NOT_BLANK, "maxLength": message_chars}},
                },
                "MessageCreated": {
                    "type": "object",
                    "required": ["created_at"],
                    "properties": {"created_at": DATETIME},
                },
                "Feedback": {
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["speak_up_again"],
                    "properties": {
                        "speak_up_again": {"enum": list(SPEAK_UP_AGAIN)},
                        "detriment": {"type": ["boolean", "null"], "description": _("null: not answered")},
                    },
                },
                "CheckIn": {
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["detriment"],
                    "properties": {"detriment": {"type": "boolean"}},
                },
                "FeedbackRecorded": {
                    "type": "object",
                    "required": ["recorded"],
                    "properties": {"recorded": {"const": True}},
                },
                "OpenAPI": {"type": "object", "required": ["openapi", "paths"]},
                **stats_schemas(),
            },
        },
        "paths": {
            "/openapi.json": {
                "get": {
                    "summary": _("This document"),
                    "responses": {"200": answer(_("OpenAPI 3.1 document"), "OpenAPI")},
                }
            },
            "/options": {
                "get": {
                    "summary": _("The allowed values for anonymity and worker group"),
                    "responses": {"200": answer(_("Allowed values"), "Options")},
                }
            },
            "/concerns": {
                "post": {
                    "summary": _("Raise a concern"),
                    "parameters": [idempotency_key(), accept_language()],
                    "requestBody": {"required": True, "content": json_content("NewConcern")},
                    "responses": {
                        "201": {**answer(_("Raised; keep the access code"), "RaisedConcern"), "headers": replayed()},
                        **errors(400, 409, 413, 415, 422, 429, 503),
                    },
                }
            },
            "/follow-up": {
                "get": {
                    "summary": _("Status and conversation of the concern this access code opens"),
                    "security": bearer,
                    "responses": {"200": answer(_("The case"), "FollowUp"), **errors(401, 429, 503)},
                }
            },
            "/follow-up/messages": {
                "post": {
                    "summary": _("Reply to the guardian"),
                    "security": bearer,
                    "requestBody": {"required": True, "content": json_content("NewMessage")},
                    "responses": {
                        "201": answer(_("Sent"), "MessageCreated"),
                        **errors(400, 401, 409, 413, 415, 422, 429, 503),
                    },
                }
            },
            "/follow-up/feedback": {
                "post": {
                    "summary": _("Answer the closing question: would you speak up again?"),
                    "security": bearer,
                    "requestBody": {"required": True, "content": json_content("Feedback")},
                    "responses": {
                        "201": answer(_("Recorded"), "FeedbackRecorded"),
                        **errors(400, 401, 409, 413, 415, 422, 429, 503),
                    },
                }
            },
            "/follow-up/check-in": {
                "post": {
                    "summary": _("Answer a check-in after closing: have you suffered detriment for speaking up since?"),
                    "security": bearer,
                    "requestBody": {"required": True, "content": json_content("CheckIn")},
                    "responses": {
                        "201": answer(_("Recorded"), "FeedbackRecorded"),
                        **errors(400, 401, 409, 413, 415, 422, 429, 503),
                    },
                }
            },
            "/follow-up/characteristics": {
                "post": {
                    "summary": _("Answer the voluntary questions about yourself, counted apart from the concern"),
                    "security": bearer,
                    "requestBody": {"required": True, "content": json_content("LaterCharacteristics")},
                    "responses": {
                        "201": answer(_("Counted"), "FeedbackRecorded"),
                        **errors(400, 401, 409, 413, 415, 422, 429, 503),
                    },
                }
            },
            **stats_paths(),
        },
    }
