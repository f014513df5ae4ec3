"""Health answers: ``/livez`` for process managers, ``/readyz`` for load balancers, ``/healthz`` for monitoring.

``/healthz`` and ``/readyz`` answer 200 ``{"status": "ok"}``, or 503 ``{"status": "unavailable", "failed": {...}}``
naming each failed check (domain/health.py says which each runs, and why a roster alarm fails only ``/healthz``).
"""

from __future__ import annotations

from flask import Blueprint, Response, jsonify

from speakup.domain import health

bp = Blueprint("health", __name__)


def _answer(failed: health.Failures) -> tuple[Response, int]:
    if failed:
        # An answer of 500 or more keeps nothing (platform/transactions.py).
        return jsonify(status="unavailable", failed=failed), 503
    return jsonify(status="ok"), 200


@bp.get("/healthz")
def healthz() -> tuple[Response, int]:
    return _answer(health.needing_action())


@bp.get("/readyz")
def readyz() -> tuple[Response, int]:
    return _answer(health.serving())


@bp.get("/livez")
def livez() -> Response:
    """The process answers: nothing else is asked, so a database outage never has every worker restarted."""
    return jsonify(status="alive")
