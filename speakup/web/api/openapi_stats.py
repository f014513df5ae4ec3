"""The OpenAPI document's statistics part: GET /stats, read by a trust's dashboard with a statistics token."""

from __future__ import annotations

from typing import Any

from speakup.web.api.schema_parts import TEXT, answer, errors

# --- Statistics: GET /stats with a statistics token (not an access code) -------------------------

STATS_SECURITY_SCHEMES = {
    "statsToken": {
        "type": "http",
        "scheme": "bearer",
        "description": "A read-only statistics token from `flask speakup stats-token create`. "
        "An access code is refused here, and a statistics token opens no concern.",
    }
}

STATS_SCHEMAS = {
    "StatsMeasure": {
        "type": "object",
        "required": ["key", "measure", "value"],
        "properties": {
            "key": {**TEXT, "description": "A stable name for the measure, such as cases_raised"},
            "measure": {**TEXT, "description": "The measure in plain words, as in the CSV return"},
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


def stats_paths() -> dict[str, Any]:
    return {
        "/stats": {
            "get": {
                "summary": "The national Freedom to Speak Up return for one quarter, small numbers suppressed",
                "description": "Counts the cases raised in the calendar quarter (Q1 is January to March, UK time) "
                "and the feedback given in it, once the quarter has ended (409 before). Each call is audited as an "
                "export. 503 while the roster log has an alarm (whether a token was revoked cannot be known then).",
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
                    "200": answer("The quarter's measures", "Stats"),
                    "401": answer("Wrong, revoked or missing statistics token", "Error"),
                    "409": answer("The quarter has not ended yet", "Error"),
                    **errors(422, 503),
                },
            }
        }
    }
