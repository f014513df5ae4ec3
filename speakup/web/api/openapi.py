"""The OpenAPI 3.1 document for JSON API v1. Tests check it covers every API route and that
real answers match its schemas, so it cannot drift from the code unnoticed."""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import current_app

from speakup.domain import workflow
from speakup.domain.categories import ANONYMITY, SPEAK_UP_AGAIN, lists_for

_TEXT = {"type": "string"}
# The server trims text before it checks it, so "required text" means "has a non-blank character" and an
# optional field may be blank or null (both mean "not given"). The schemas say exactly that, so a client
# (or a fuzzer) can tell from the document alone what will be accepted.
_NOT_BLANK = r"\S"
_BLANK = {"anyOf": [{"type": "null"}, {"type": "string", "pattern": r"^\s*$"}]}
_DATE = {"type": "string", "format": "date"}
_DATETIME = {"type": "string", "format": "date-time"}


def _json(schema_ref: str) -> dict[str, Any]:
    return {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema_ref}"}}}


def _answer(description: str, schema_ref: str) -> dict[str, Any]:
    return {"description": description, "content": _json(schema_ref)}


def _errors(*statuses: int) -> dict[str, Any]:
    texts = {
        400: "Malformed request",
        401: "Wrong or missing access code",
        409: "Conflicts with the case's state",
        413: "Body larger than 1 MiB",
        415: "Body is not JSON",
        422: "Fields invalid or unknown",
        429: "Too many requests; see Retry-After",
        503: "Service unavailable",
    }
    return {str(s): _answer(texts[s], "Error") for s in statuses}


def _optional_text(max_chars: int, description: str) -> dict[str, Any]:
    return {"type": ["string", "null"], "maxLength": max_chars, "description": description}


def openapi_document() -> dict[str, Any]:
    bearer = [{"accessCode": []}]
    config = current_app.config
    short, concern_chars, message_chars = (
        config["MAX_SHORT_FIELD_CHARS"],
        config["MAX_CONCERN_CHARS"],
        config["MAX_MESSAGE_CHARS"],
    )
    worker_groups = list(lists_for(date.today()).worker_groups)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Speak Up reporter API",
            "version": "1",
            "description": "Raise a concern and follow it up with its access code. No cookies are used.",
        },
        "servers": [{"url": "/api/v1"}],
        "components": {
            "securitySchemes": {
                "accessCode": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "The access code shown once when the concern was raised.",
                },
                **_STATS_SECURITY_SCHEMES,
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
                                "code": _TEXT,
                                "message": _TEXT,
                                "fields": {"type": "object", "additionalProperties": _TEXT},
                            },
                        }
                    },
                },
                "Options": {
                    "type": "object",
                    "required": ["anonymity", "worker_groups"],
                    "properties": {
                        "anonymity": {"type": "array", "items": {"enum": list(ANONYMITY)}},
                        "worker_groups": {"type": "array", "items": _TEXT},
                        "guardians": {
                            "type": "array",
                            "description": "Guardians a reporter may keep out of their concern (exclude_guardian)",
                            "items": {
                                "type": "object",
                                "required": ["id", "name"],
                                "properties": {"id": _TEXT, "name": _TEXT},
                            },
                        },
                    },
                },
                "NewConcern": {
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["what_happened", "anonymity"],
                    "properties": {
                        "what_happened": {"type": "string", "pattern": _NOT_BLANK, "maxLength": concern_chars},
                        "where": _optional_text(short, "Where it happened"),
                        "when": _optional_text(short, "When it happened"),
                        "anonymity": {"enum": list(ANONYMITY)},
                        "name": _optional_text(short, "Required unless anonymous; refused when anonymous."),
                        "contact": _optional_text(short, "Refused when anonymous."),
                        "worker_group": {
                            "anyOf": [{"enum": worker_groups}, _BLANK],
                            "description": "One of /options worker_groups; blank or null when not given.",
                        },
                        "exclude_guardian": {
                            "anyOf": [{"type": "string"}, {"type": "null"}],
                            "description": "The id (from /options) of a guardian who must never receive this "
                            "concern; blank or null for none. An id that is not a current guardian's gets 422.",
                        },
                    },
                    # Nothing identifying is stored for an anonymous concern: a name or contact is refused
                    # rather than dropped. Confidential and open concerns need a name.
                    "if": {"required": ["anonymity"], "properties": {"anonymity": {"const": "anonymous"}}},
                    "then": {"properties": {"name": _BLANK, "contact": _BLANK}},
                    "else": {"required": ["name"], "properties": {"name": {"type": "string", "pattern": _NOT_BLANK}}},
                },
                "RaisedConcern": {
                    "type": "object",
                    "required": ["reference", "access_code", "status", "acknowledge_by"],
                    "properties": {
                        "reference": _TEXT,
                        "access_code": {**_TEXT, "description": "Shown once. Never stored; cannot be recovered."},
                        "status": {"const": "received"},
                        "acknowledge_by": _DATE,
                    },
                },
                "Message": {
                    "type": "object",
                    "required": ["author", "body", "created_at"],
                    "properties": {
                        "author": {"enum": ["reporter", "guardian"]},
                        "body": _TEXT,
                        "created_at": _DATETIME,
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
                    ],
                    "properties": {
                        "reference": _TEXT,
                        "status": {"enum": list(workflow.REPORTER_LABELS)},
                        "status_label": _TEXT,
                        "created_at": _DATETIME,
                        "acknowledge_by": _DATE,
                        "feedback_by": _DATE,
                        "messages": {"type": "array", "items": {"$ref": "#/components/schemas/Message"}},
                        "feedback_requested": {"type": "boolean"},
                        "check_in_requested": {
                            "type": "boolean",
                            "description": "A check-in after closing is waiting: "
                            "Since your case was closed, have you suffered detriment for speaking up?",
                        },
                    },
                },
                "NewMessage": {
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["body"],
                    "properties": {"body": {"type": "string", "pattern": _NOT_BLANK, "maxLength": message_chars}},
                },
                "MessageCreated": {
                    "type": "object",
                    "required": ["created_at"],
                    "properties": {"created_at": _DATETIME},
                },
                "Feedback": {
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["speak_up_again"],
                    "properties": {
                        "speak_up_again": {"enum": list(SPEAK_UP_AGAIN)},
                        "detriment": {"type": ["boolean", "null"], "description": "null: not answered"},
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
                **_STATS_SCHEMAS,
            },
        },
        "paths": {
            "/openapi.json": {
                "get": {
                    "summary": "This document",
                    "responses": {"200": _answer("OpenAPI 3.1 document", "OpenAPI")},
                }
            },
            "/options": {
                "get": {
                    "summary": "The allowed values for anonymity and worker group",
                    "responses": {"200": _answer("Allowed values", "Options")},
                }
            },
            "/concerns": {
                "post": {
                    "summary": "Raise a concern",
                    "requestBody": {"required": True, "content": _json("NewConcern")},
                    "responses": {
                        "201": _answer("Raised; keep the access code", "RaisedConcern"),
                        **_errors(400, 413, 415, 422, 429, 503),
                    },
                }
            },
            "/follow-up": {
                "get": {
                    "summary": "Status and conversation of the concern this access code opens",
                    "security": bearer,
                    "responses": {"200": _answer("The case", "FollowUp"), **_errors(401, 429, 503)},
                }
            },
            "/follow-up/messages": {
                "post": {
                    "summary": "Reply to the guardian",
                    "security": bearer,
                    "requestBody": {"required": True, "content": _json("NewMessage")},
                    "responses": {
                        "201": _answer("Sent", "MessageCreated"),
                        **_errors(400, 401, 409, 413, 415, 422, 429, 503),
                    },
                }
            },
            "/follow-up/feedback": {
                "post": {
                    "summary": "Answer the closing question: would you speak up again?",
                    "security": bearer,
                    "requestBody": {"required": True, "content": _json("Feedback")},
                    "responses": {
                        "201": _answer("Recorded", "FeedbackRecorded"),
                        **_errors(400, 401, 409, 413, 415, 422, 429, 503),
                    },
                }
            },
            "/follow-up/check-in": {
                "post": {
                    "summary": "Answer a check-in after closing: have you suffered detriment for speaking up since?",
                    "security": bearer,
                    "requestBody": {"required": True, "content": _json("CheckIn")},
                    "responses": {
                        "201": _answer("Recorded", "FeedbackRecorded"),
                        **_errors(400, 401, 409, 413, 415, 422, 429, 503),
                    },
                }
            },
            **_stats_paths(),
        },
    }


# --- Statistics: GET /stats with a statistics token (not an access code) -------------------------

_STATS_SECURITY_SCHEMES = {
    "statsToken": {
        "type": "http",
        "scheme": "bearer",
        "description": "A read-only statistics token from `flask speakup stats-token create`. "
        "An access code is refused here, and a statistics token opens no concern.",
    }
}

_STATS_SCHEMAS = {
    "StatsMeasure": {
        "type": "object",
        "required": ["key", "measure", "value"],
        "properties": {
            "key": {**_TEXT, "description": "A stable name for the measure, such as cases_raised"},
            "measure": {**_TEXT, "description": "The measure in plain words, as in the CSV return"},
            "value": {
                "description": 'A count, or the suppression label (such as "<5") when the count is small '
                "or would let a small count be worked out by subtraction",
                "oneOf": [{"type": "integer", "minimum": 0}, {"type": "string", "pattern": "^<[0-9]+$"}],
            },
        },
    },
    "Stats": {
        "type": "object",
        "required": ["quarter", "measures", "suppress_below"],
        "properties": {
            "quarter": {"type": "string", "pattern": "^[0-9]{4}Q[1-4]$"},
            "measures": {"type": "array", "items": {"$ref": "#/components/schemas/StatsMeasure"}},
            "suppress_below": {"type": "integer", "minimum": 1},
        },
    },
}


def _stats_paths() -> dict[str, Any]:
    return {
        "/stats": {
            "get": {
                "summary": "The national Freedom to Speak Up return for one quarter, small numbers suppressed",
                "description": "Counts the cases raised in the calendar quarter (Q1 is January to March, UK time) "
                "and the feedback given in it. Each call is audited as an export.",
                "security": [{"statsToken": []}],
                "parameters": [
                    {
                        "name": "quarter",
                        "in": "query",
                        "required": True,
                        "schema": {"type": "string", "pattern": "^2[0-9]{3}-?[Qq][1-4]$"},
                        "example": "2026Q3",
                    }
                ],
                "responses": {
                    "200": _answer("The quarter's measures", "Stats"),
                    "401": _answer("Wrong, revoked or missing statistics token", "Error"),
                    **_errors(422, 503),
                },
            }
        }
    }
