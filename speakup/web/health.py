"""Liveness for load balancers: 200 when the database answers, 503 when it does not."""

from __future__ import annotations

from flask import Blueprint, jsonify
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from speakup.platform.models import db

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    try:
        db.session.execute(text("SELECT 1"))
    except DBAPIError:
        return jsonify(status="unavailable"), 503  # an answer of 500 or more keeps nothing (platform/transactions.py)
    return jsonify(status="ok")
