"""The web layer: HTML pages and the JSON API. Views parse the request, call the domain, render; nothing below
imports this package. ``register`` lists every blueprint."""

from __future__ import annotations

from typing import Any

from flask import Flask, request

EXIT_PAGE_BLUEPRINTS = ("report", "followup", "about")


def register(app: Flask) -> None:
    """Every blueprint, the error pages and the template helpers, on one app."""
    from speakup.platform import dates, translation
    from speakup.platform.extensions import csrf
    from speakup.web import (
        about,
        admin,
        assets,
        check_answers,  # noqa: F401  (its routes join the report blueprint)
        enrol,
        errors,
        followup,
        forgetting,
        guardian,
        health,
        languages,
        once,
        raising,
    )
    from speakup.web.api.routes import bp as api_bp
    from speakup.web.guardian import team

    for blueprint in (raising.bp, about.bp, followup.bp, guardian.bp, team.bp, enrol.bp, admin.bp, api_bp, health.bp):
        app.register_blueprint(blueprint)
    assets.serve_assets(app)
    csrf.exempt(api_bp)
    errors.init_app(app)
    once.init_app(app)
    languages.init_app(app)  # after once: the chooser's own form is answered before once checks any form
    translation.install_in_templates(app)
    forgetting.init_app(app)

    # The one way a page writes a date ("7 December 2026"), or a moment with its UK time ("... at 2:05pm").
    app.add_template_filter(dates.written, "long_date")

    @app.context_processor
    def _template_globals() -> dict[str, Any]:
        return {
            "organisation_name": app.config["ORGANISATION_NAME"],
            "request_path": request.path,
            # "Exit this page" is on the pages of those raising or following up a concern (and those they link to).
            "exit_page_url": app.config["EXIT_PAGE_URL"] if request.blueprint in EXIT_PAGE_BLUEPRINTS else None,
        }
