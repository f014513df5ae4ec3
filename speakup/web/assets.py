"""Serves the NHS.UK design system's built files from the app itself: no CDN, no third party."""

from __future__ import annotations

from flask import Blueprint


def make_blueprint(frontend_dir: str) -> Blueprint:
    # Version-stamped file names never change content, so these (and only these) may be cached.
    return Blueprint("nhsuk", __name__, static_folder=frontend_dir, static_url_path="/assets/nhsuk")
