"""The board report page for guardians: charts drawn on the server, each with its table."""

from __future__ import annotations

from flask import Response, abort, render_template
from flask_login import current_user

from speakup.reporting import board
from speakup.web.guardian import bp
from speakup.web.guardian.auth import guardian_required, private_key


@bp.get("/board")
@guardian_required
def board_page():
    page = board.board_page(current_user.user.id, private_key())
    return render_template("guardian/board.html", report=page.report, charts=board.CHARTS, learning=page.learning)


@bp.get("/board/<name>.svg")
@guardian_required
def board_chart(name: str):
    if name not in board.CHARTS:
        abort(404)
    response = Response(board.chart_svg(board.current_report(), name), mimetype="image/svg+xml")
    # Shown through <img>, where an SVG runs nothing; its own styles need this one allowance.
    response.headers["Content-Security-Policy"] = "default-src 'none'; style-src 'unsafe-inline'"
    return response
