"""The board report page for guardians: charts drawn on the server, each with its table."""

from __future__ import annotations

from datetime import date

from flask import Response, abort, current_app, render_template
from flask_login import current_user

from speakup.keys import grants
from speakup.platform import clock
from speakup.reporting import board
from speakup.web.guardian import bp
from speakup.web.guardian.auth import guardian_required, private_key

QUARTERS = 4


def _report() -> board.BoardReport:
    config = current_app.config
    return board.board_report(
        clock.uk_today(),
        QUARTERS,
        config["ACK_DAYS"],
        config["FEEDBACK_DAYS"],
        config["SUPPRESS_BELOW"],
        config["CHARACTERISTICS_MIN_ANSWERS"],
    )


@bp.get("/board")
@guardian_required
def board_page():
    report = _report()
    me, key = current_user.user.id, private_key()
    first_quarter = report.quarters[0].label  # "2026 Q1"
    since = date(int(first_quarter[:4]), 3 * int(first_quarter[-1]) - 2, 1)
    learning = board.shared_learning(me, lambda case: grants.guardian_case_key(case, me, key), since)
    return render_template("guardian/board.html", report=report, charts=board.CHARTS, learning=learning)


@bp.get("/board/<name>.svg")
@guardian_required
def board_chart(name: str):
    if name not in board.CHARTS:
        abort(404)
    response = Response(board.chart_svg(_report(), name), mimetype="image/svg+xml")
    # Shown through <img>, where an SVG runs nothing; its own styles need this one allowance.
    response.headers["Content-Security-Policy"] = "default-src 'none'; style-src 'unsafe-inline'"
    return response
