"""The accessibility statement and the privacy notice, linked from every page's footer.

Each shows the trust's own words when it set a file for them (ACCESSIBILITY_STATEMENT_FILE, PRIVACY_NOTICE_FILE,
read at start-up by speakup/settings.py into plain paragraphs, always escaped), or else the shipped words, which
describe this service as it runs."""

from __future__ import annotations

from flask import Blueprint, current_app, render_template

bp = Blueprint("about", __name__)


@bp.get("/accessibility")
def accessibility():
    return render_template("about/accessibility.html", trust_text=current_app.config["ACCESSIBILITY_STATEMENT"])


@bp.get("/privacy")
def privacy():
    config = current_app.config
    return render_template(
        "about/privacy.html", trust_text=config["PRIVACY_NOTICE"], retention_days=int(config["RETENTION_DAYS"])
    )
