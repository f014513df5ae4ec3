"""Following up a concern with its access code, on the HTML pages.

The code is never put in the cookie: after one check it becomes a short-lived reporter session
(case key sealed server-side, per-session key in the cookie), ended by signing out or 15 minutes idle.
"""

from __future__ import annotations

from datetime import date, timedelta

from flask import Blueprint, current_app, flash, g, make_response, redirect, render_template, session, url_for

from speakup.crypto import access_codes, sealing
from speakup.domain import characteristics, checkins, files, handling, reading, timescales, workflow
from speakup.domain.categories import SPEAK_UP_AGAIN, yes_no
from speakup.keys import grants, sessions
from speakup.platform import imaging
from speakup.platform.extensions import LimitStoreDown, access_code_limit, csrf, submit_limit
from speakup.platform.inputs import InvalidInput
from speakup.platform.models import db, utcnow
from speakup.web.errors import LIMIT_STORE_DOWN_ACCESS_CODE, limit_store_down_form
from speakup.web.forgetting import forget_session, forget_this_browser
from speakup.web.forms import DomainForm
from speakup.web.uploads import accept_upload, uploaded_file

bp = Blueprint("followup", __name__, url_prefix="/follow-up")

NOT_FOUND = "We could not find a concern with that access code. Check it and try again."
ENTER_CODE = "Enter your access code"
TYPING_MISTAKE = "This access code has a typing mistake. Check each character against the code you saved."


class AccessCodeForm(DomainForm):
    field_names = ("access_code",)


class ReplyForm(DomainForm):
    field_names = ("body",)


def _replace_reporter() -> None:
    """Another access code opens another case here: the previous one's session keys go (the rest stays)."""
    session.pop("reporter_session", None)
    session.pop("reporter_key", None)


def _current_case():
    """The case of this browser's reporter session, or None when there is none or it expired."""
    session_id, key = session.get("reporter_session"), session.get("reporter_key")
    if not session_id or not key:
        return None
    idle = timedelta(minutes=current_app.config["REPORTER_IDLE_MINUTES"])
    try:
        return sessions.resume_reporter_session(session_id, sealing.b64d(key), idle)
    except (sessions.SessionExpired, ValueError):
        forget_session()  # a time-out forgets the whole browser session, a confirmation slot included
        return None


@bp.get("")
def start():
    if _current_case() is not None:
        return redirect(url_for("followup.case_page"))
    return render_template("followup/start.html", form=AccessCodeForm())


def _code_refused(form: AccessCodeForm, message: str) -> tuple[str, int]:
    """The sign-in form again with ``message`` by the field, and what they typed still in the box, so one wrong
    character can be put right rather than the whole code typed again. It is only ever sent back to the browser
    that typed it, on a page that is never cached (Cache-Control: no-store) and never logged.

    Every refusal counts against ACCESS_CODE_RATE_LIMIT exactly as a wrong code does, so telling typing mistakes
    apart gives no one extra guesses."""
    g.access_code_failed = True
    form.fail({"access_code": message})
    return render_template("followup/start.html", form=form), 400


@bp.post("")
@access_code_limit
def check_code():
    form = AccessCodeForm()
    typed = form.values["access_code"]
    # Blank, malformed or failing its check character: known from the text alone, with no database, no secret
    # and nothing that depends on whether any concern exists, so saying so reveals nothing about codes.
    try:
        access_codes.normalise_access_code(typed)
    except access_codes.EmptyAccessCode:
        return _code_refused(form, ENTER_CODE)
    except access_codes.InvalidAccessCode:
        return _code_refused(form, TYPING_MISTAKE)
    # A well-formed code: one answer and the same work whether it opens a concern or not (keys/grants.py).
    try:
        case, case_key = grants.open_with_access_code(typed, current_app.config["TOKEN_PEPPER_BYTES"])
    except grants.AccessCodeNotFound:
        return _code_refused(form, NOT_FOUND)
    _replace_reporter()
    idle = timedelta(minutes=current_app.config["REPORTER_IDLE_MINUTES"])
    row, session_key = sessions.start_reporter_session(case, case_key, idle)
    session["reporter_session"] = row.id
    session["reporter_key"] = sealing.b64e(session_key)
    return redirect(url_for("followup.case_page"))


@bp.errorhandler(LimitStoreDown)
def _code_unchecked(error: LimitStoreDown):
    """Access codes fail closed while the rate-limit store is down (speakup/platform/extensions.py): the same page
    with "try again shortly". Unlike a refused code, this one was never checked and may be right, so it is not put
    back in the field, where it would stay on a shared screen."""
    return limit_store_down_form(
        error, "followup/start.html", AccessCodeForm(), LIMIT_STORE_DOWN_ACCESS_CODE, ("access_code",)
    )


class FeedbackForm(DomainForm):
    field_names = ("speak_up_again", "detriment")


class CheckInForm(DomainForm):
    field_names = ("since_closing",)


class AttachmentForm(DomainForm):
    field_names = (imaging.FIELD,)


class AboutForm(DomainForm):
    field_names = characteristics.FIELDS


def _render_case(
    case,
    case_key,
    form: ReplyForm,
    status: int = 200,
    feedback_form: FeedbackForm | None = None,
    attachment_form: AttachmentForm | None = None,
    check_in_form: CheckInForm | None = None,
    about_form: AboutForm | None = None,
):
    view = reading.reporter_view(case, case_key)
    return render_template(
        "followup/case.html",
        case=view,
        check_in=checkins.QUESTION if checkins.check_in_requested(case, workflow.london_today(utcnow())) else "",
        check_in_form=check_in_form or CheckInForm(),
        form=form,
        feedback_form=feedback_form or FeedbackForm(),
        speak_up_again=SPEAK_UP_AGAIN,
        files=files.describe(case, case_key),
        extensions=timescales.extensions_of(case, case_key),
        attachment_form=attachment_form or AttachmentForm(),
        attachment_hint=imaging.limits_text(),
        attachment_accept=imaging.accept_attribute(),
        about_asked=not case.characteristics_given,
        about_form=about_form or AboutForm(),
        questions=characteristics.questions_for(date.today()),
        how_answers_are_kept=characteristics.HOW_ANSWERS_ARE_KEPT,
    ), status


@bp.get("/case")
def case_page():
    current = _current_case()
    if current is None:
        return redirect(url_for("followup.start"))
    return _render_case(*current, ReplyForm())


@bp.post("/case/messages")
def reply():
    current = _current_case()
    form = ReplyForm()
    if current is None:
        # Session ended while they typed: keep their words on the sign-in page's notice.
        return render_template(
            "followup/start.html", form=AccessCodeForm(), expired=True, kept_reply=form.values["body"]
        ), 401
    case, case_key = current
    try:
        handling.post_message(case, case_key, "reporter", form.values["body"])
    except InvalidInput as exc:
        form.fail(exc.errors)
        return _render_case(case, case_key, form, 400)
    except handling.CaseChanged:
        db.session.refresh(case)
        form.fail({"body": "Your concern was updated at the same moment. Your message is below: send it again."})
        return _render_case(case, case_key, form, 409)
    return redirect(url_for("followup.case_page") + "#messages")


@bp.post("/case/attachments")
@csrf.exempt  # checked by accept_upload(), once this request may carry a file
@submit_limit
def add_file():
    accept_upload()
    current = _current_case()
    if current is None:
        return render_template("followup/start.html", form=AccessCodeForm(), expired=True), 401
    case, case_key = current
    form = AttachmentForm()
    upload = uploaded_file()
    try:
        if upload is None:
            raise imaging.AttachmentRefused("Choose a file to add")
        clean = imaging.check_file(*upload)
        files.add_reporter_file(case, case_key, clean)
    except InvalidInput as exc:
        form.fail(exc.errors)
        return _render_case(case, case_key, ReplyForm(), 400, attachment_form=form)
    if clean.removed:
        flash(clean.removed_text, "file-cleaned")  # shown once, on the page this redirects to
    return redirect(url_for("followup.case_page") + "#files")


@bp.post("/case/feedback")
def feedback():
    current = _current_case()
    if current is None:
        return redirect(url_for("followup.start"))
    case, case_key = current
    form = FeedbackForm()
    try:
        handling.record_feedback(case, form.values["speak_up_again"], yes_no(form.values["detriment"]))
    except InvalidInput as exc:
        form.fail(exc.errors)
        return _render_case(case, case_key, ReplyForm(), 400, feedback_form=form)
    except handling.CaseChanged:
        db.session.refresh(case)
        form.fail(
            {"speak_up_again": "Your concern was updated at the same moment. Check your answer and send it again."}
        )
        return _render_case(case, case_key, ReplyForm(), 409, feedback_form=form)
    except handling.FeedbackNotOpen:
        db.session.rollback()  # already answered, or reopened meanwhile: the page shows which
    return redirect(url_for("followup.case_page"))


@bp.post("/case/check-in")
def check_in():
    current = _current_case()
    if current is None:
        return redirect(url_for("followup.start"))
    case, case_key = current
    form = CheckInForm()
    try:
        checkins.record_check_in(case, yes_no(form.values["since_closing"]), workflow.london_today(utcnow()))
    except InvalidInput as exc:
        form.fail({"since_closing": exc.errors["detriment"]})
        return _render_case(case, case_key, ReplyForm(), 400, check_in_form=form)
    except (checkins.CheckInNotDue, handling.CaseChanged):
        db.session.rollback()  # answered meanwhile, or reopened: the page shows which
    return redirect(url_for("followup.case_page"))


@bp.post("/case/about-you")
def about_you():
    current = _current_case()
    if current is None:
        return redirect(url_for("followup.start"))
    case, case_key = current
    form = AboutForm()
    try:
        answers = characteristics.check_answers(characteristics.from_form(form.values), date.today())
        characteristics.give_for_case(case, answers)
    except InvalidInput as exc:
        form.fail(exc.errors)
        return _render_case(case, case_key, ReplyForm(), 400, about_form=form)
    except characteristics.AlreadyGiven:
        pass  # answered meanwhile (another tab): the page says so
    return redirect(url_for("followup.case_page") + "#about-you")


@bp.post("/sign-out")
def sign_out():
    session_id = session.get("reporter_session")
    if session_id:
        sessions.end_reporter_session(session_id)
    return forget_this_browser(make_response(render_template("followup/signed_out.html")))
