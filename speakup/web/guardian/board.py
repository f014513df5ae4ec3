"""The board report page for guardians: headline figures, then charts drawn as page text, each with its table."""

from __future__ import annotations

from flask import render_template
from flask_login import current_user

from speakup.reporting import board
from speakup.web.guardian import bp
from speakup.web.guardian.auth import guardian_required, private_key


@bp.get("/board")
@guardian_required
def board_page():
    page = board.board_page(current_user.user.id, private_key())
    return render_template("guardian/board.html", page=page, report=page.report, learning=page.learning)
