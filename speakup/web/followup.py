"""Following up a concern with its access code, on the HTML pages.

The code is never put in the cookie: after one check it becomes a short-lived reporter session
(case key sealed server-side, per-session key in the cookie), ended by signing out or 15 minutes idle.
"""

from __future__ import annotations

from flask import Blueprint, flash, g, get_flashed_messages, redirect, render_template, session, url_for

from speakup.domain import (
    browser_sessions,
    case_pages,
    characteristics,
    checkins,
    files,
    handling,
    time_outs,
)
from speakup.domain.categories import yes_no
from speakup.platform import attachments, clock
from speakup.platform.extensions import LimitStoreDown, access_code_limit, submit_limit
from speakup.platform.inputs import InvalidInput
from speakup.platform.models import Author, Case
from speakup.platform.translation import gettext as _
from speakup.platform.translation import lazy_gettext as _l
from speakup.web import once
from speakup.web.errors import LIMIT_STORE_DOWN_ACCESS_CODE, LIMIT_STORE_DOWN_RETRY_AFTER, log_limit_store_down
from speakup.web.forgetting import forget_session, forget_this_browser
from speakup.web.forms import DomainForm
from speakup.web.uploads import accept_upload, uploaded_file

bp = Blueprint("followup", __name__, url_prefix="/follow-up")

NOT_FOUND = _l("We could not find a concern with that access code. Check it and try again.")
ENTER_CODE = _l("Enter your access code")
TYPING_MISTAKE = _l("This access code has a typing mistake. Check each character against the code you saved.")
LOOKS_LIKE_REFERENCE = _l(
    "That looks like your case reference. Your access code is the longer code, in groups of 4 letters and numbers, "
    "that you were given when you raised your concern."
)
CANNOT_CHECK = _l("We cannot check access codes just now. Your concern is safe: please try again later.")
REFUSED_CODE = {
    browser_sessions.UNAVAILABLE: CANNOT_CHECK,
    browser_sessions.EMPTY: ENTER_CODE,
    browser_sessions.MISTYPED: TYPING_MISTAKE,
    browser_sessions.REFERENCE: LOOKS_LIKE_REFERENCE,
    browser_sessions.NOT_FOUND: NOT_FOUND,
}


class AccessCodeForm(DomainForm):
    field_names = ("access_code",)


class ReplyForm(DomainForm):
    field_names = ("body",)


class UnsentReply(DomainForm):
    """A reply sent after the session had timed out: kept for the sign-in page, to be copied and sent again."""

    field_names = ("body",)


TIMED_OUT = "timed-out"  # the flash that tells the sign-in page the person was signed out for being idle


def _replace_reporter() -> None:
    """Another access code opens another case here: the previous one's session keys go (the rest stays)."""
    session.pop("reporter_session", None)
    session.pop("reporter_key", None)


def _current_case():
    """The case of this browser's reporter session, or None when there is none or it expired."""
    session_id, key = session.get("reporter_session"), session.get("reporter_key")
    if not session_id or not key:
        return None
    try:
        return browser_sessions.resume_reporter_session(session_id, key)
    except browser_sessions.SessionExpired:
        forget_session()  # a time-out forgets the whole browser session, a confirmation slot included
        return None


@bp.get("")
def start():
    if _current_case() is not None:
        return redirect(url_for("followup.case_page"))
    return render_template("followup/start.html", form=AccessCodeForm.shown(), unsent=UnsentReply.shown())


def _code_refused(form: AccessCodeForm, message: str):
    """The sign-in form again with ``message`` by the field, and what they typed still in the box, so one wrong
    character can be put right rather than the whole code typed again. It is kept only for the browser that typed
    it, on the page the refusal redirects to, until it goes to another page or KEPT_FORM_MINUTES pass (once.py):
    never in the answer to the POST, which the browser would keep in its History and send again.

    Every refusal counts against ACCESS_CODE_RATE_LIMIT exactly as a wrong code does, so telling typing mistakes
    apart gives no one extra guesses."""
    g.access_code_failed = True
    return form.came_back({"access_code": message})


@bp.post("")
@access_code_limit
def check_code():
    form = AccessCodeForm()
    typed = form.values["access_code"]
    # Blank, malformed or failing its check character is told apart: known from the text alone, it reveals nothing
    # about codes. A well-formed code: one answer and the same work whether it opens a concern or not.
    try:
        case, case_key = browser_sessions.check_access_code(typed)
    except browser_sessions.AccessCodeRefused as refused:
        if refused.reason == browser_sessions.REFERENCE:
            form.values["access_code"] = ""  # nothing in it to put right: the reference is not kept for the box
        return _code_refused(form, REFUSED_CODE[refused.reason])
    _replace_reporter()
    session["reporter_session"], session["reporter_key"] = browser_sessions.start_reporter_session(case, case_key)
    return redirect(url_for("followup.case_page"), 303)


@bp.errorhandler(LimitStoreDown)
def _code_unchecked(error: LimitStoreDown):
    """Access codes fail closed while the rate-limit store is down (speakup/platform/extensions.py): back to the
    form with "try again shortly". Unlike a refused code, this one was never checked and may be right, so it is not
    kept for the box, where it would stay on a shared screen."""
    log_limit_store_down(error)
    form = AccessCodeForm()
    form.values["access_code"] = ""
    response = form.came_back({"service": LIMIT_STORE_DOWN_ACCESS_CODE})
    response.headers["Retry-After"] = LIMIT_STORE_DOWN_RETRY_AFTER
    return response


class AfterClosingForm(DomainForm):
    """The questions once the case is closed (checkins.after_closing), in one form with one button."""

    field_names = ("speak_up_again", "detriment", "since_closing")


class AttachmentForm(DomainForm):
    field_names = (attachments.FIELD,)


class AboutForm(DomainForm):
    field_names = characteristics.FIELDS


def _render_case(case: Case, case_key: bytes) -> str:
    page = case_pages.reporter_case_page(case, case_key)
    return render_template(
        "followup/case.html",
        **vars(page),
        form=ReplyForm.shown(),
        after_closing_form=AfterClosingForm.shown(),
        attachment_form=AttachmentForm.shown(),
        attachment_hint=attachments.limits_text(),
        attachment_accept=attachments.accept_attribute(),
        about_form=AboutForm.shown(),
    )


@bp.get("/case")
def case_page():
    current = _current_case()
    if current is None:
        return redirect(url_for("followup.start"))
    return _render_case(*current)


def _timed_out():
    flash("signed out", TIMED_OUT)
    return redirect(url_for("followup.start"), 303)


@bp.post("/case/messages")
def reply():
    current = _current_case()
    form = ReplyForm()
    if current is None:
        # Timed out while they typed: their words are kept for the sign-in page, which explains.
        flash("signed out", TIMED_OUT)
        return UnsentReply().came_back({}, to=url_for("followup.start"))
    case, case_key = current
    to_case = url_for("followup.case_page") + "#messages"
    try:
        handling.post_message(case, case_key, Author.REPORTER, form.values["body"])
    except InvalidInput as exc:
        return form.came_back(exc.errors, to=to_case)
    except handling.CaseChanged:
        changed = _("Your concern was updated at the same moment. Your message is below: send it again.")
        return form.came_back({"body": changed}, to=to_case)
    return redirect(to_case, 303)


@bp.post("/case/attachments")
@once.checks_its_own_form  # after the upload's size limit, in accept_upload()
@submit_limit
def add_file():
    refused = accept_upload()
    if refused is not None:
        return refused
    current = _current_case()
    if current is None:
        return _timed_out()
    case, case_key = current
    form = AttachmentForm()
    upload = uploaded_file()
    to_files = url_for("followup.case_page") + "#files"
    try:
        if upload is None:
            raise attachments.AttachmentRefused(_("Choose a file to add"))
        clean = attachments.check_file(*upload)
        files.add_reporter_file(case, case_key, clean)
    except InvalidInput as exc:
        return form.came_back(exc.errors, to=to_files)
    if clean.removed:
        flash(clean.removed_text, "file-cleaned")  # shown once, on the page this redirects to
    return redirect(to_files, 303)


@bp.post("/case/feedback")
def feedback():
    """The one form after closing: "would you speak up again?" and the question about being treated worse."""
    current = _current_case()
    if current is None:
        return _timed_out()
    case, _case_key = current
    form = AfterClosingForm()
    to_case = url_for("followup.case_page")
    values = form.values
    try:
        checkins.answer_after_closing(
            case, values["speak_up_again"], yes_no(values["detriment"]), yes_no(values["since_closing"]),
            clock.uk_today(),
        )  # fmt: skip
    except InvalidInput as exc:
        return form.came_back(exc.errors, to=to_case)
    except handling.CaseChanged:
        changed = _("Your concern was updated at the same moment. Check your answers and send them again.")
        return form.came_back({"speak_up_again": changed}, to=to_case)
    except (handling.FeedbackNotOpen, checkins.CheckInNotDue):
        pass  # already answered, or reopened meanwhile: the page shows which
    return redirect(to_case, 303)


@bp.post("/case/check-in")
def check_in():
    """A check-in's answer alone, as the page once sent it in a form of its own (the page's one form now goes to
    ``feedback``): kept for a page opened before, and refused by the one form's field."""
    current = _current_case()
    if current is None:
        return _timed_out()
    case, _case_key = current
    form = AfterClosingForm()
    to_case = url_for("followup.case_page")
    try:
        checkins.record_check_in(case, yes_no(form.values["since_closing"]), clock.uk_today())
    except InvalidInput as exc:
        return form.came_back({"since_closing": exc.errors["detriment"]}, to=to_case)
    except (checkins.CheckInNotDue, handling.CaseChanged):
        pass  # answered meanwhile, or reopened: the page shows which
    return redirect(to_case, 303)


@bp.post("/case/about-you")
def about_you():
    current = _current_case()
    if current is None:
        return _timed_out()
    case, _case_key = current
    form = AboutForm()
    to_about = url_for("followup.case_page") + "#about-you"
    try:
        answers = characteristics.check_answers(characteristics.from_form(form.values), clock.uk_today())
        characteristics.give_for_case(case, answers)
    except InvalidInput as exc:
        return form.came_back(exc.errors, to=to_about)
    except characteristics.AlreadyGiven:
        pass  # answered meanwhile (another tab): the page says so
    return redirect(to_about, 303)


@bp.post("/sign-out")
def sign_out():
    session_id = session.get("reporter_session")
    if session_id:
        browser_sessions.end_reporter_session(session_id)
    return forget_this_browser(redirect(url_for("followup.signed_out"), 303))


@bp.post("/keep-alive")
@once.checks_its_own_form  # its token is checked, not claimed: the same page may ask again
def keep_alive():
    """ "Stay signed in" on the case page: 204, the session's last activity now (to the minute, as always).
    Without this browser's form token, a redirect as any refused form gets; a session that has ended is forgotten
    and the browser sent to the signed-out page, as the page's own time-out would; with none, to the start."""
    if not once.token_passes():
        return redirect(once.form_start(), 303)  # as every refused form is answered, with nothing done
    had_a_session = bool(session.get("reporter_session"))
    if _current_case() is None:
        return _ended_by_time_out() if had_a_session else redirect(url_for("followup.start"), 303)
    return "", 204, {"Speakup-Seconds-Left": str(time_outs.reporter_time_left().until_the_end)}


TIMED_OUT_PAGE = "timed-out-page"  # the flash that tells the signed-out page the time ran out


@bp.post("/time-out")
def time_out():
    """Sent by the case page's script when its time has run out, so an unattended screen stops showing the concern:
    the session has ended, and this browser forgets it as at sign-out. Still going (another tab kept it): back to
    the case."""
    had_a_session = bool(session.get("reporter_session"))
    if _current_case() is not None:
        return redirect(url_for("followup.case_page"), 303)
    return _ended_by_time_out() if had_a_session else redirect(url_for("followup.start"), 303)


def _ended_by_time_out():
    response = forget_this_browser(redirect(url_for("followup.signed_out"), 303))
    flash("timed out", TIMED_OUT_PAGE)  # into the new, empty session
    return response


@bp.get("/signed-out")
def signed_out():
    timed_out = bool(get_flashed_messages(category_filter=[TIMED_OUT_PAGE]))
    return render_template("followup/signed_out.html", timed_out=timed_out)
