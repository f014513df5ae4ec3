"""The guardian's pages: one blueprint, its pages in the modules of this package."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("guardian", __name__, url_prefix="/guardian")

# Each module adds its pages to bp; the team page is a blueprint of its own.
from speakup.web.guardian import (  # noqa: E402, F401
    board,
    case,
    new_codes,
    queue,
    record,
    returns,
    shares,
    signin,
    time_out,
)
