"""Who is signed in on the guardian's side, and the checks every guardian page makes."""

from __future__ import annotations

from functools import wraps
from typing import cast
from urllib.parse import urlsplit

from flask import abort, current_app, flash, g, redirect, request, session, url_for
from flask_login import UserMixin, current_user, login_required, logout_user
from werkzeug.exceptions import HTTPException
from werkzeug.routing import RequestRedirect
from werkzeug.wrappers import Response

from speakup.domain import browser_sessions, team, time_outs
from speakup.platform.extensions import login_manager
from speakup.platform.models import Role, StaffSession
from speakup.web import once
from speakup.web.forgetting import forget_session, forget_this_browser


class SignedInStaff(UserMixin):
    """The Flask-Login user: one server-side staff session, so signing out ends it everywhere."""

    def __init__(self, row: StaffSession):
        self.row = row
        self.user = row.user

    def get_id(self) -> str:
        return self.row.id

    @property
    def is_guardian(self) -> bool:
        return self.user.role == Role.GUARDIAN


@login_manager.user_loader
def _load_staff(session_id: str) -> SignedInStaff | None:
    try:
        row = browser_sessions.load_staff_session(session_id, session.get("staff_key", ""))
    except browser_sessions.SessionExpired as expired:
        g.staff_timed_out = expired.args[0] if expired.args else None
        if isinstance(expired, time_outs.SessionTimedOut):
            g.staff_timed_out_session = expired  # its sealed keys: what was typed is sealed to its person
        return None
    return SignedInStaff(row)


login_manager.login_view = "guardian.sign_in"


TIMED_OUT = "timed-out"  # the sign-in page's notice after a time-out


@login_manager.unauthorized_handler
def _to_sign_in():
    """To the sign-in page with no ``next=``: the page a guardian was on (a case's reference) must not be written
    into the browser's History on a shared computer. A session that timed out is forgotten whole, as at
    sign-out, and the page they were on kept server-side for the same person's next sign-in."""
    response = redirect(url_for("guardian.sign_in"), 303 if request.method == "POST" else 302)
    if "staff_timed_out" not in g:
        return response
    user_id = g.staff_timed_out
    back_to, unsent = page_and_unsent_words()
    timed_out = g.get("staff_timed_out_session")
    # Before the session (and the cookie's key) is forgotten; only from a page of that session (its token's secret
    # was made after its sign-in and goes with it).
    if unsent is not None and timed_out is not None and once.token_passes():
        time_outs.keep_unsent(timed_out, session.get("staff_key", ""), unsent)
    forget_this_browser(response)
    flash("signed out", TIMED_OUT)
    if user_id is not None:
        once.remember_return(back_to, user_id)
    return response


# The forms whose typed words are kept, sealed to the guardian's own key, when they are sent after a time-out (or
# handed over by the page's script when its time runs out): endpoint -> (the name the form keeps its words under,
# the fields worth keeping). Passwords and security codes never are.
KEPT_AT_TIME_OUT: dict[str, tuple[str, tuple[str, ...]]] = {}
# What the page's script sends when its time runs out, and "Stay signed in" (sent too late, it ends the same way):
# both carry the words typed in the page's form.
SCRIPT_ENDPOINTS = ("guardian.time_out", "guardian.keep_alive")


def keeps_words_at_time_out(endpoint: str, form: str, fields: tuple[str, ...]) -> None:
    KEPT_AT_TIME_OUT[endpoint] = (form, fields)


def _own_path(text: str) -> str:
    """A path on this site, or "" (never another host's address: it becomes a redirect)."""
    if not text.startswith("/") or text.startswith("//") or "\\" in text:
        return ""
    return urlsplit(text).path


def _endpoint(path: str, method: str = "POST") -> str | None:
    try:
        endpoint, _arguments = current_app.url_map.bind("localhost").match(path, method=method)
    except (HTTPException, RequestRedirect):
        return None
    return str(endpoint)


def page_and_unsent_words() -> tuple[str, time_outs.Unsent | None]:
    """The page a guardian was on when their session ended, and the words of the form they were sending (a form
    sent after the time-out) or had typed (the page's script, when its time ran out), when that form keeps them."""
    if request.method == "GET":
        return request.path, None
    if request.endpoint in SCRIPT_ENDPOINTS:
        action = _own_path(request.form.get("form_action", ""))
        page = _own_path(action or request.form.get("page", "")) or url_for("guardian.queue")
        endpoint = _endpoint(action) if action else None
    else:
        # The language chooser's buttons send the page's form to the page's own address, which may answer GET only
        # (the case page): its words are that page's (speakup/web/languages.py, ``signed_in_first``).
        page, endpoint = request.path, request.endpoint or _endpoint(request.path, "GET")
    back_to = once.form_start(page)
    kept = KEPT_AT_TIME_OUT.get(endpoint or "")
    if kept is None:
        return back_to, None
    form, fields = kept
    return back_to, time_outs.Unsent(back_to, form, {name: request.form.get(name, "") for name in fields})


def signed_in_first() -> Response | None:
    """Before the language chooser keeps a guardian's typed words for the browser (speakup/web/languages.py): None
    while their session lives; otherwise the answer the page's own forms get, so after a time-out the words are
    sealed to the guardian's own key for their next sign-in (never kept for a browser whose session is forgotten)."""
    if current_user.is_authenticated:
        return None
    return cast(Response, login_manager.unauthorized())


# No "strong" protection: it hashes the client address, which this service never uses.
login_manager.session_protection = None


def staff_keys() -> browser_sessions.AccountKeys:
    """The signed-in person's private keys, opened with the half of the session the cookie holds."""
    if "staff_keys" not in g:
        try:
            g.staff_keys = browser_sessions.staff_keys(current_user.row, session.get("staff_key", ""))
        except browser_sessions.SessionExpired:
            _end_session()
            abort(redirect(url_for("guardian.sign_in")))
    return g.staff_keys


def private_key() -> bytes:
    """The signed-in guardian's HPKE private key: it opens the case keys wrapped for them."""
    return staff_keys().private_key


def signed_in_guardian_required(view):
    """Any signed-in guardian, approved or not: the queue (which tells a pending guardian they are waiting) and
    the Team page only."""

    @wraps(view)
    @login_required
    def wrapped(*args, **kwargs):
        if not current_user.is_guardian:
            abort(403)
        return view(*args, **kwargs)

    return wrapped


def guardian_required(view):
    """A guardian on the verified roster (speakup/keys/roster.py). Anyone else, a guardian waiting for approval or one
    whose approval no longer verifies included, gets 403, whatever grants they hold."""

    @wraps(view)
    @login_required
    def wrapped(*args, **kwargs):
        if not current_user.is_guardian or not team.on_roster(current_user.user.id):
            abort(403)
        return view(*args, **kwargs)

    return wrapped


def _end_session() -> None:
    if current_user.is_authenticated:
        browser_sessions.sign_out(current_user.row)
    logout_user()
    forget_session()  # the whole session, and what it pointed at (a recorded concern's code to hand over)
