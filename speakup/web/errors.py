"""Error pages and JSON errors. Never a stack trace, never an echo of what was sent."""

from __future__ import annotations

import logging
import time
import traceback

from flask import Flask, Response, current_app, flash, g, jsonify, make_response, redirect, render_template, request
from flask_wtf.csrf import CSRFError
from limits.errors import StorageError
from sqlalchemy.exc import DBAPIError
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response as BaseResponse  # what redirect() makes; flask.Response derives from it

from speakup.platform.models import drop_failed_transaction
from speakup.platform.translation import gettext as _
from speakup.platform.translation import lazy_gettext as _l
from speakup.platform.translation import ngettext
from speakup.web import once

log = logging.getLogger(__name__)

PAGES = {
    400: (
        _l("Something went wrong with that form"),
        # Never the form again with what was typed: a refused form may be the next person at a shared computer
        # pressing Back and Reload on someone else's (docs/threat-model.md, "The next person at a shared computer").
        _l(
            "The page may have been open too long, or the form was sent twice, so nothing was sent. For your "
            "security, nothing you typed is shown again: open the form again to start again."
        ),
    ),
    401: (_l("You need to sign in"), _l("Sign in to see this page.")),
    403: (_l("You cannot see this page"), _l("Your account does not have access to this page.")),
    404: (_l("Page not found"), _l("Check the web address, or go back to the start.")),
    405: (_l("Page not found"), _l("Check the web address, or go back to the start.")),
    413: (_l("What you sent is too large"), _l("Shorten your text and try again.")),
    429: (_l("Too many tries"), _l("For your safety we have paused this for a short while.")),
    500: (
        _l("Sorry, there is a problem with the service"),
        _l("Nothing you sent has been lost or shared. Try again later."),
    ),
    503: (_l("Sorry, the service is unavailable"), _l("Try again in a few minutes. Nothing has been saved or shared.")),
}

# The rate-limit store (Redis) is down: sign-in and access-code checks fail closed with these words
# (see speakup/platform/extensions.py). Retry-After tells a client when to ask again.
LIMIT_STORE_DOWN_TITLE = _l("We cannot check that just now")
LIMIT_STORE_DOWN_BODY = _l(
    "Signing in and checking access codes are paused for a short while. Nothing has been lost or shared. "
    "Please try again in a minute or two."
)
LIMIT_STORE_DOWN_SIGN_IN = _l("We cannot check sign-ins just now. Please try again in a minute or two.")
LIMIT_STORE_DOWN_ACCESS_CODE = _l(
    "We cannot check access codes just now. Your concern is safe. Please try again in a minute or two."
)
LIMIT_STORE_DOWN_RETRY_AFTER = "30"

API_CODES = {
    400: "bad_request",
    401: "unauthorised",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_large",
    415: "unsupported_media_type",
    422: "invalid",
    429: "rate_limited",
    500: "server_error",
    503: "unavailable",
}


def wants_json() -> bool:
    return request.path.startswith("/api/")


def api_error(status: int, message: str, code: str | None = None, **extra: object) -> tuple[Response, int]:
    # str(): a message made at import is lazily translated, into the request's Accept-Language.
    body: dict[str, object] = {"code": code or API_CODES.get(status, "error"), "message": str(message)}
    body.update(extra)
    return jsonify(error=body), status


def _signed_in_staff_role(status: int) -> str | None:
    """The role of the staff member this request already signed in, for a client error only: their page then keeps
    the staff header and its sign-out, so a 403 does not drop them out of the service. The user is never loaded here
    (g holds them once a view has checked sign-in): loading would reach the database, and a reporter's or anonymous
    visitor's error page has no reason to. Server errors keep the plain page, which needs nothing that may be
    broken."""
    user = g.get("_login_user")
    if status >= 500 or not getattr(user, "is_authenticated", False):
        return None
    return user.user.role


def error_page(
    status: int, retry_after: str | None = None, title: str | None = None, body: str | None = None
) -> tuple[str, int]:
    default_title, default_body = PAGES.get(status, PAGES[500])
    return render_template(
        "errors/error.html",
        status=status,
        title=title or default_title,
        body=body or default_body,
        retry_after=retry_after,
        staff_role=_signed_in_staff_role(status),
    ), status


def an_html_form_was_sent() -> bool:
    return request.method == "POST" and not wants_json()


def form_refused(status: int, body: str | None = None, retry_after: str | None = None) -> BaseResponse:
    """The answer when an HTML form's POST fails before or in its view (too large, too many tries, the service
    down): never a page, which the browser would keep in History with the form's body and send again on Reload (a
    shared ward computer), but a redirect to the form's page, which says what happened."""
    title, default_body = PAGES.get(status, PAGES[500])
    flash(_("%(title)s. %(body)s", title=title, body=body or default_body), once.REFUSED_CATEGORY)
    response = redirect(once.form_start(), 303)
    if retry_after:
        response.headers["Retry-After"] = retry_after
    return response


def log_limit_store_down(error: BaseException) -> None:
    # The type only: the store's message names its address, and nothing here helps a reader more.
    cause = error.__cause__ or getattr(error, "storage_error", None)
    log.error("rate-limit store unavailable on %s: %s", request.url_rule, type(cause or error).__name__)


def limit_store_down(error: BaseException) -> BaseResponse:
    """503 "cannot check right now": a limit's store is down and the limit fails closed. Pages that hold
    a form (sign-in, follow-up) answer this themselves, keeping what was typed."""
    log_limit_store_down(error)
    if an_html_form_was_sent():
        return form_refused(503, LIMIT_STORE_DOWN_BODY, LIMIT_STORE_DOWN_RETRY_AFTER)
    if wants_json():
        answer, status = api_error(503, _("Access codes cannot be checked just now. Try again in a minute or two."))
    else:
        page, status = error_page(503, title=LIMIT_STORE_DOWN_TITLE, body=LIMIT_STORE_DOWN_BODY)
        answer = Response(page, mimetype="text/html")
    answer.status_code = status
    answer.headers["Retry-After"] = LIMIT_STORE_DOWN_RETRY_AFTER
    return answer


def retry_after_text() -> str | None:
    from speakup.platform.extensions import limiter

    current = limiter.current_limit
    if current is None:
        return None
    value = max(1, int(current.reset_at - time.time()))
    if value < 120:
        return ngettext("%(num)d second", "%(num)d seconds", value)
    return ngettext("%(num)d minute", "%(num)d minutes", (value + 59) // 60)


def _close_session(_error: BaseException | None) -> None:
    """Flask-SQLAlchemy's own teardown, made safe: closing rolls back whatever is open, and if the database went
    away since the last statement that rollback fails, which would escape the request as gunicorn's bare 500."""
    from speakup.platform.models import db

    try:
        db.session.remove()
    except DBAPIError:
        db.session().invalidate()
        db.session.remove()


HTTP_API_MESSAGES = {
    413: _l("The request body is larger than 1 MiB."),
    429: _l("Too many requests. Try again later."),
    404: _l("Not found."),
    405: _l("Method not allowed."),
}


def _csrf(error: CSRFError):
    if wants_json():
        return api_error(400, _("The request was refused."))
    return error_page(400)


def _limit_store(error: StorageError):
    return limit_store_down(error)


# nginx takes bodies up to 12 MiB (deploy/nginx/speakup.conf) and streams them (proxy_request_buffering off).
DRAIN_LIMIT_BYTES = 13 * 1024 * 1024


def _drain_body() -> None:
    """Reads and drops what is left of a body too large to take: answered before the proxy in front has finished
    sending it, the connection would be closed under it, and the person would get the proxy's 502 instead of this
    answer. Up to DRAIN_LIMIT_BYTES; the body is never kept."""
    stream = request.environ.get("wsgi.input")
    remaining = min(request.content_length or 0, DRAIN_LIMIT_BYTES)
    while stream is not None and remaining > 0:
        chunk = stream.read(min(64 * 1024, remaining))
        if not chunk:
            break
        remaining -= len(chunk)


def _http(error: HTTPException):
    status = error.code or 500
    if status == 413:
        _drain_body()
    if isinstance(getattr(error, "original_exception", None), StorageError):
        # Flask-Limiter's after_request (its X-RateLimit headers read the counter) met a dead store:
        # Flask reports that as a 500; it is the same "cannot check right now".
        return limit_store_down(error.original_exception)  # type: ignore[attr-defined]
    # Refusals of what was sent (too large, too many) go back to the form; a 403 or 404 stays the page it is (who may
    # do what is not something the form's page can say, and nothing sent is shown either way).
    if an_html_form_was_sent() and status in (413, 429):
        wait = retry_after_text() if status == 429 else None
        body = _("%(paused)s Try again in %(wait)s.", paused=PAGES[429][1], wait=wait) if wait else None
        if status == 413 and request.mimetype == "multipart/form-data":
            body = _file_too_large()
        return form_refused(status, body, dict(error.get_headers()).get("Retry-After"))
    if wants_json():
        answer = make_response(api_error(status, HTTP_API_MESSAGES.get(status, error.name)))
    else:
        answer = make_response(error_page(status, retry_after_text() if status == 429 else None))
    # Keep what werkzeug says beside the status (Allow on a 405, which RFC 9110 requires), but not its type.
    for name, value in error.get_headers():
        if name.lower() != "content-type":
            answer.headers[name] = value
    return answer


def _file_too_large() -> str:
    # A form that can carry a file was over the limit: the file is why (the text alone has a limit of its own).
    megabytes = int(current_app.config["ATTACHMENT_MAX_BYTES"]) // (1024 * 1024)
    return _(
        "The file you chose is larger than %(megabytes)d MB, so nothing was sent. Choose a smaller file (a photo of "
        "a page, say), or send your concern without it and add the file later from the follow-up page.",
        megabytes=megabytes,
    )


def database_failed(error: DBAPIError) -> None:
    """The one ERROR line for a database that refused or timed out (docs/deploy.md, "What to alert on"), also for
    the views that answer such a failure themselves (raising a concern keeps the person's words)."""
    drop_failed_transaction()
    log.error("database unavailable: %s", type(error.orig).__name__ if error.orig else "unknown")


def _database(error: DBAPIError):
    database_failed(error)
    if "_login_user" not in g:
        # Flask-Login's template context would load the signed-in user from the database again: a
        # second wait for the dead database, then an exception inside this handler (a bare 500).
        g._login_user = current_app.login_manager.anonymous_user()  # type: ignore[attr-defined]  # set by LoginManager
    if wants_json():
        return api_error(503, _("The service is unavailable. Try again in a few minutes."))
    if an_html_form_was_sent():
        return form_refused(503)
    return error_page(503)


def _unexpected(error: Exception):
    # Log the type only: the message of an exception could carry what a person typed.
    log.error(
        "unexpected %s on %s %s\n%s",
        type(error).__name__,
        request.method,
        request.url_rule,
        "".join(traceback.format_tb(error.__traceback__)),
    )
    if wants_json():
        return api_error(500, _("Something went wrong. Nothing you sent was shared."))
    if an_html_form_was_sent():
        return form_refused(500)
    return error_page(500)


def init_app(app: Flask) -> None:
    # Registered after Flask-SQLAlchemy's teardown, so it runs first (Flask runs them in reverse) and theirs
    # then finds nothing left to close.
    app.teardown_appcontext(_close_session)
    for error_class, handler in (
        (CSRFError, _csrf),
        (StorageError, _limit_store),
        (HTTPException, _http),
        (DBAPIError, _database),
        (Exception, _unexpected),
    ):
        app.register_error_handler(error_class, handler)
