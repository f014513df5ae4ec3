"""Every HTML form is answered once, and a form's words are never sent back in answer to its body.

A browser keeps the body of every form it sent and sends it again on Back and Reload, long after the person who
typed it has gone (a shared ward computer). So:

- Every form carries a one-time nonce beside its CSRF token (both in the ``csrf_token`` field), made for this browser:
  its MAC covers a random secret that only this browser's session cookie holds, so it is unknown to any other
  browser and to this one once its session is cleared (signing out, a time-out).
- A POST with an unknown, forged or expired nonce is refused without reading or echoing anything it carried: the
  person is sent to the form's start with a notice that nothing was sent.
- A POST claims its nonce (``platform/form_posts.py``) in the transaction that does its work; a second send of the
  same form finds the claim and is sent where the first went, nothing done twice.
- Every answer to a POST is a redirect (post/redirect/get). A form that comes back with errors is kept for the same
  browser, sealed under that cookie secret, for ``KEPT_FORM_MINUTES``, and shown by the page the redirect leads to;
  it is forgotten when the browser goes to any other page, sends a form again or signs out.

Views that take a file check the form themselves, after the upload's size limit (``checks_its_own_form``).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import Any, TypeVar, cast
from urllib.parse import urlsplit

from flask import Flask, current_app, flash, g, redirect, request, session
from flask_wtf.csrf import generate_csrf, validate_csrf
from sqlalchemy.exc import DBAPIError
from werkzeug.exceptions import HTTPException
from werkzeug.routing import RequestRedirect
from werkzeug.wrappers import Response
from wtforms import ValidationError

from speakup.domain.browser_sessions import pseudonym, pseudonyms
from speakup.platform import clock, form_posts
from speakup.platform.attachments import CleanFile
from speakup.platform.form_posts import Kept
from speakup.platform.models import drop_failed_transaction
from speakup.platform.translation import lazy_gettext as _l

BROWSER = "browser"  # the session's secret: nonces are made for it and kept words sealed under it
KEPT = "kept"  # the session's pointer to the one form kept for it: {"nonce", "path", "also": [paths]}
SEPARATOR = "~"  # between Flask-WTF's CSRF token and the nonce, in the one hidden field
REFUSED = _l("That page was out of date, so nothing was sent. If you still want to send it, fill in the form again.")
REFUSED_CATEGORY = "form-refused"

FIRST_SEND_WAIT_SECONDS = 10  # a second send waits this long for the first to be answered, then goes to the start

_CHECKS_OWN: set[str] = set()
View = TypeVar("View", bound=Callable[..., Any])


def checks_its_own_form(view: View) -> View:
    """For a view that reads a large body (a file) only after its own limit: it calls ``check_form`` itself."""
    _CHECKS_OWN.add(f"{view.__module__}.{view.__qualname__}")
    return view


def _browser_secret(create: bool = False) -> str | None:
    secret = session.get(BROWSER)
    if secret is None and create:
        secret = session[BROWSER] = secrets.token_urlsafe(32)
    return secret


def _mac(browser: str, nonce: str, issued: int) -> str:
    return pseudonym(f"{browser}|{nonce}|{issued}", "form-nonce")


def _mac_matches(mac: str, browser: str, nonce: str, issued: int) -> bool:
    """Whether ``mac`` is the form's, under any configured pepper: a page opened before a rotation still sends."""
    macs = pseudonyms(f"{browser}|{nonce}|{issued}", "form-nonce")
    return any([secrets.compare_digest(mac, each) for each in macs])


def form_token() -> str:
    """The value of every form's ``csrf_token`` field: one nonce per page, shared by the forms on it."""
    if "form_token" not in g:
        browser = cast(str, _browser_secret(create=True))  # made when missing
        nonce, issued = secrets.token_urlsafe(24), int(clock.utcnow().timestamp() // 60)
        g.form_token = f"{generate_csrf()}{SEPARATOR}{nonce}.{issued}.{_mac(browser, nonce, issued)}"
    return g.form_token


def _nonce_from(field: str) -> str | None:
    """The nonce in a posted field, when it is this browser's, unexpired, and its CSRF token passes."""
    csrf_part, _, nonce_part = field.rpartition(SEPARATOR)
    try:
        validate_csrf(csrf_part)
    except ValidationError:
        return None
    nonce, _, rest = nonce_part.partition(".")
    issued, _, mac = rest.partition(".")
    browser = _browser_secret()
    if browser is None or not issued.isdigit() or not _mac_matches(mac, browser, nonce, int(issued)):
        return None
    age_minutes = clock.timestamp() // 60 - int(issued)
    if not 0 <= age_minutes <= current_app.config["FORM_HOURS"] * 60:
        return None
    return nonce


def form_start(path: str | None = None) -> str:
    """The page a form at ``path`` (this request's, by default) is filled in on: the nearest address at or above
    it that answers GET."""
    adapter = current_app.url_map.bind("localhost")
    path = (path or request.path).rstrip("/") or "/"
    while True:
        try:
            adapter.match(path, method="GET")
            return path
        except RequestRedirect as moved:
            return urlsplit(moved.new_url).path
        except HTTPException:
            if path in ("", "/"):
                return "/"
            path = path.rsplit("/", 1)[0] or "/"


def refuse() -> Response:
    flash(str(REFUSED), REFUSED_CATEGORY)  # kept in the session as this request's words
    return redirect(form_start(), 303)


def check_form(claim: bool = True) -> Response | None:
    """None when this POST's form may be acted on (and, with ``claim``, is now claimed); otherwise the answer: a
    refusal, or the redirect a send of the same form was answered with."""
    nonce = _nonce_from(request.form.get("csrf_token", ""))
    if nonce is None:
        return refuse()
    try:
        forget_kept()  # sent again: what was kept for an earlier send goes
        gone = form_posts.browser_gone(str(_browser_secret()))  # a copy of a cookie whose session was ended
    except DBAPIError as exc:
        if claim:
            raise  # nothing can be done for this form: the error page's redirect says so
        # The raise form, with the database down: its view answers with the words at once (no second wait).
        drop_failed_transaction()
        g.database_down = exc
        gone = False
    if gone:
        return refuse()
    if claim and not form_posts.claim(nonce):
        # A double click: the browser shows this answer, not the first one's, so it follows the first.
        first = form_posts.where_it_went(nonce, wait_seconds=FIRST_SEND_WAIT_SECONDS)
        if first is not None and first.kept_ct is not None:
            session[KEPT] = {"nonce": nonce, "path": first.target}
        return redirect((first.target if first is not None else None) or form_start(), 303)
    g.form_nonce = nonce
    return None


def keep(
    form: str,
    values: dict[str, str],
    errors: dict[str, str],
    to: str | None = None,
    also: tuple[str, ...] = (),
    file: CleanFile | None = None,
) -> Response:
    """Answers a form that came back with errors, or whose answers are to be checked: its words (and ``file``) kept
    for this browser, and a redirect to ``to`` (the form's start by default), whose page reads them with
    ``kept(form)``; so may the pages at ``also`` (the form itself, for a "Change" link from its check page)."""
    path = urlsplit(to).path if to else form_start()
    browser = _browser_secret(create=True)
    nonce = g.get("form_nonce")
    if nonce is None or browser is None:  # a form that was not checked: nothing is kept, nothing echoed
        return redirect(to or path, 303)
    g.kept_ct = form_posts.seal_kept(nonce, browser, Kept(form, values, errors, file))
    session[KEPT] = {"nonce": nonce, "path": path, "also": list(also)}
    return redirect(to or path, 303)


def token_passes() -> bool:
    """For a request that acts on nothing a person typed ("Stay signed in"): its token is this browser's and passes,
    and nothing is claimed, so the same page can ask again."""
    nonce = _nonce_from(request.form.get("csrf_token", ""))
    return nonce is not None and not form_posts.browser_gone(str(_browser_secret()))


def token_is_this_browsers(field: str) -> bool:
    """For a request that only chooses how pages are shown (the language chooser's own form, web/languages.py): the
    token in ``field`` was made for this browser's session and has not expired. Nothing is claimed (the page's forms
    share the token and stay unsent) and nothing is read from the database (the chooser works on its error pages)."""
    return _nonce_from(request.form.get(field, "")) is not None


def keep_for(form: str, values: dict[str, str], errors: dict[str, str], path: str) -> None:
    """Words to be shown by the form ``form`` on the page at ``path`` (the next page this browser opens), sealed for
    this browser as a form's that came back: a guardian's words given back after signing in again."""
    nonce = secrets.token_urlsafe(24)
    browser = str(_browser_secret(create=True))
    form_posts.record(nonce, path, form_posts.seal_kept(nonce, browser, Kept(form, values, errors)))
    session[KEPT] = {"nonce": nonce, "path": path}


def _left_the_screen() -> bool:
    """A navigation the person began afresh (an address typed, a bookmark, History, a new tab; the browser says
    ``Sec-Fetch-Site: none``), not the redirect after the form or a Reload of it (``same-origin``): whoever sent
    the form has left that screen, and the next person at the computer may be the one opening the page."""
    return request.headers.get("Sec-Fetch-Site") == "none"


def _kept_here(pointer: object) -> bool:
    """Whether this page is one the kept words may be shown on (the one they were kept for, or one beside it)."""
    if not isinstance(pointer, dict):
        return False
    also = pointer.get("also")
    return pointer.get("path") == request.path or (isinstance(also, list) and request.path in also)


def kept(form: str) -> Kept | None:
    """The words of ``form`` kept for this browser, on the page they were kept for, on that screen only."""
    pointer = session.get(KEPT)
    browser = _browser_secret()
    if not isinstance(pointer, dict) or browser is None or not _kept_here(pointer):
        return None
    if _left_the_screen():
        return None  # and forgotten after this page (``_record``)
    found = form_posts.open_kept(str(pointer.get("nonce")), browser)
    return found if found is not None and found.form == form else None


def kept_marker() -> str:
    """Names which words are kept for this browser just now (a keyed hash of the send they were kept for, "" for
    none), so a page that shows them can tell, when its form comes back, whether they changed meanwhile."""
    pointer = session.get(KEPT)
    if not isinstance(pointer, dict) or not pointer.get("nonce"):
        return ""
    return form_posts.lookup_for(str(pointer["nonce"]))[:32]


def forget_kept() -> None:
    """What was kept for this browser's form goes (shown once, say); the caller commits."""
    pointer = session.pop(KEPT, None)
    if isinstance(pointer, dict) and pointer.get("nonce"):
        form_posts.forget_kept(str(pointer["nonce"]))


RETURN = "return_to"  # the session's pointer to the page a guardian was on when their session timed out


def remember_return(path: str, user_id: int) -> None:
    """After a time-out cleared the session: the page to go back to once the same person signs in again, kept
    sealed for this browser like a form's words (never a ``next=`` in the address, which History would keep)."""
    nonce = secrets.token_urlsafe(24)
    browser = str(_browser_secret(create=True))
    sealed = form_posts.seal_kept(nonce, browser, Kept(RETURN, {"path": path, "user": str(user_id)}, {}))
    form_posts.record(nonce, None, sealed)
    session[RETURN] = nonce


def take_return(user_id: int) -> str | None:
    """The page kept by ``remember_return`` for this person, once (within KEPT_FORM_MINUTES); the caller commits."""
    nonce, browser = session.pop(RETURN, None), _browser_secret()
    if not isinstance(nonce, str) or browser is None:
        return None
    found = form_posts.open_kept(nonce, browser)
    form_posts.forget_kept(nonce)
    if found is None or found.form != RETURN or found.values.get("user") != str(user_id):
        return None
    return found.values.get("path")


def forget() -> None:
    """Signing out, a time-out: the kept words go with the session, and its secret is recorded as gone, so a copy
    of the old cookie cannot send a form again either (the caller clears the session and commits)."""
    forget_kept()
    session.pop(RETURN, None)
    browser = _browser_secret()
    if browser is not None:
        form_posts.record_browser_gone(browser)


def _check_post() -> Response | None:
    if request.method != "POST" or request.blueprint == "api" or request.endpoint is None:
        return None
    view = current_app.view_functions.get(request.endpoint)
    if view is not None and f"{view.__module__}.{view.__qualname__}" in _CHECKS_OWN:
        return None
    return check_form()


def _record(response: Response) -> Response:
    """After a POST: where its answer went (and its kept words). After any other page: kept words not for it go."""
    if response.status_code >= 500 or g.get("database_down"):
        return response  # the database failed the request's own work: not asked again, the answer says so
    # Written in the request's transaction, so the form's record and its work are kept together or not at all (a
    # database that fails here fails the commit too: an error page, never an answer saying it was done).
    if "form_nonce" in g:
        redirected = response.location and response.status_code < 400
        target = urlsplit(response.location).path if redirected else ""
        form_posts.record(g.form_nonce, target, g.get("kept_ct"))
    elif (
        request.method == "GET"
        and response.mimetype == "text/html"
        and KEPT in session
        and (not _kept_here(session[KEPT]) or _left_the_screen())
    ):
        forget_kept()
    return response


def init_app(app: Flask) -> None:
    # First of all: a refused or repeated form is answered before anything else reads it, the rate limiter
    # included, so a refused access code cannot be tried again by Reload once the limit has passed.
    app.before_request_funcs.setdefault(None, []).insert(0, _check_post)
    app.after_request(_record)
    # Flask-WTF offers its own token both ways (a global for imported macros, a context value for pages).
    app.jinja_env.globals["csrf_token"] = form_token
    app.context_processor(lambda: {"csrf_token": form_token})
