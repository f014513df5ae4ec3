"""The OpenAPI document's statistics part: GET /stats, read by a trust's dashboard with a statistics token. Built for
each request, as the rest of the document is, so its words are in the request's language."""

from __future__ import annotations

from typing import Any

from speakup.platform.translation import gettext as _
from speakup.web.api.schema_parts import TEXT, answer, errors

# --- Statistics: GET /stats with a statistics token (not an access code) -------------------------


def stats_security_schemes() -> dict[str, Any]:
    return {
        "statsToken": {
            "type": "http",
            "scheme": "bearer",
            "description": _(
                "A read-only statistics token from `flask speakup stats-token create`. An access code is refused "
                "here, and a statistics token opens no concern."
            ),
        }
    }


def stats_schemas() -> dict[str, Any]:
    return {
        "StatsMeasure": {
            "type": "object",
            "required": ["key", "measure", "value"],
            "properties": {
                "key": {**TEXT, "description": _("A stable name for the measure, such as cases_raised")},
                "measure": {**TEXT, "description": _("The measure in plain words, as in the CSV return")},
                "value": {
                    "description": _(
                        'A count, or the suppression label (such as "<5") when the count is small or would let a '
                        "small count be worked out by subtraction"
                    ),
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
                "summary": _("The national Freedom to Speak Up return for one quarter, small numbers suppressed"),
                "description": _(
                    "Counts the cases raised in the calendar quarter (Q1 is January to March, UK time) and the "
                    "feedback given in it, once the quarter has ended (409 before). Each call is audited as an "
                    "export. 503 while the roster log has an alarm (whether a token was revoked cannot be known then)."
                ),
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
                    "200": answer(_("The quarter's measures"), "Stats"),
                    "401": answer(_("Wrong, revoked or missing statistics token"), "Error"),
                    "409": answer(_("The quarter has not ended yet"), "Error"),
                    **errors(422, 503),
                },
            }
        }
    }
