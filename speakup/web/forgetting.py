"""Signing out and time-outs on a shared ward computer: the next person at it must find nothing.

Every way a person leaves (a guardian's "Sign out", "Sign out of this concern", "Yes, hide my code" after "I have
saved my access code", a session that timed out) forgets the whole session, not only the part it was about: a
confirmation still showing an access code, a reporter's case key, a guardian's key half. The answer also asks the
browser to drop what it keeps for the site (its cache and web storage; `Clear-Site-Data` applies over HTTPS, as the
service is served).
"""

from __future__ import annotations

from flask import Flask, g, session
from flask_login import current_user
from werkzeug.wrappers import Response

from speakup.domain import submissions, time_outs
from speakup.web import once

CONFIRMATION = "raised"  # the session's slot naming the form that raised a concern (its code shown for a while)
RECORDED = "recorded"  # the same for a concern a guardian recorded (its code shown to hand over)
NEW_CODE = "new-code"  # the same for a new access code a guardian gave (web/guardian/new_codes.py)
CLEAR_SITE_DATA = '"cache", "storage"'


def forget_session() -> None:
    """The whole session goes; a confirmation it pointed at (a raised or a recorded concern's) no longer keeps its
    code either, and a copy of the cookie (read from the browser's files, say) can send none of its forms again. The
    answer asks the browser to drop what it holds for the site (``_ask_the_browser_to_forget``)."""
    once.forget()
    for slot in (CONFIRMATION, RECORDED, NEW_CODE):
        token = session.get(slot)
        if token:
            submissions.forget_code(submissions.from_form(token))
    session.clear()
    g.browser_forgotten = True


def forget_this_browser(response: Response) -> Response:
    """``forget_session``, for a view that answers with ``response``."""
    forget_session()
    response.headers["Clear-Site-Data"] = CLEAR_SITE_DATA
    return response


def _ask_the_browser_to_forget(response: Response) -> Response:
    """Every way a session ends (a time-out found by any page included) tells the browser to drop its cache and
    storage for the site."""
    if g.get("browser_forgotten"):
        response.headers["Clear-Site-Data"] = CLEAR_SITE_DATA
    return response


def session_time_left(kind: str) -> time_outs.TimeLeft | None:
    """For a page's time-out notice and its script (the macro ``time_out``): a signed-in staff member's session
    ("staff"), or the follow-up session the reporter's page was just drawn for ("reporter")."""
    if kind == "reporter":
        return time_outs.reporter_time_left()
    return time_outs.staff_time_left(current_user.row) if current_user.is_authenticated else None


def init_app(app: Flask) -> None:
    app.after_request(_ask_the_browser_to_forget)
    app.jinja_env.globals["session_time_left"] = session_time_left
