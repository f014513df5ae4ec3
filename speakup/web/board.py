"""The board report page for guardians: charts drawn on the server, each with its table."""

from __future__ import annotations

from flask import Response, abort, current_app, render_template

from .. import board
from ..models import utcnow
from ..workflow import london_today
from .guardian import bp, guardian_required

QUARTERS = 4


def _report() -> board.BoardReport:
    config = current_app.config
    return board.board_report(
        london_today(utcnow()), QUARTERS, config["ACK_DAYS"], config["FEEDBACK_DAYS"], config["SUPPRESS_BELOW"]
    )


@bp.get("/board")
@guardian_required
def board_page():
    return render_template("guardian/board.html", report=_report(), charts=board.CHARTS)


@bp.get("/board/<name>.svg")
@guardian_required
def board_chart(name: str):
    if name not in board.CHARTS:
        abort(404)
    response = Response(board.chart_svg(_report(), name), mimetype="image/svg+xml")
    # Shown through <img>, where an SVG runs nothing; its own styles need this one allowance.
    response.headers["Content-Security-Policy"] = "default-src 'none'; style-src 'unsafe-inline'"
    return response
