""" "Check your answers" (/raise/check): the raise form's answers read back before anything is sent.

The raise form's "Continue" (``raising.raise_submit`` with its ``step`` marker) keeps the answers, and the file
already cleaned, sealed for this browser (``once.keep``, for KEPT_FORM_MINUTES); nothing typed is in this page's
form, which carries only its one-time tokens. Its "Submit concern" raises the concern from what was kept, under the
raise form's submission token: a double click, Reload or Back and send again finds the concern already raised and
shows its confirmation (domain/submissions.py). "Change" leads back to the form, every answer kept.
"""

from __future__ import annotations

from typing import cast

from flask import current_app, flash, g, redirect, render_template, request, session, url_for
from sqlalchemy.exc import DBAPIError

from speakup.domain import checking, submissions
from speakup.platform import languages
from speakup.platform.form_posts import Kept
from speakup.platform.inputs import InvalidInput
from speakup.platform.translation import lazy_gettext as _l
from speakup.web import errors, once
from speakup.web.forgetting import CONFIRMATION
from speakup.web.raising import ISSUED, ConcernForm, already_raised, bp, kept_answers, not_saved

NOTICE = "kept-notice"  # shown where every "nothing was sent" notice is (base.html), not a refused form
FORGOTTEN = _l(
    "For your safety your answers are kept for a few minutes only, and they were forgotten, so nothing was sent. "
    "Please fill in the form again."
)
ANSWERS_FIELD = "answers"  # the page's form: which kept answers it showed (once.kept_marker), never the answers
REPLACED = _l("Your answers were changed in another tab or window. Check them again before you send them.")


@bp.get("/raise/check")
def check_answers():
    found = once.kept(ConcernForm.form_name())
    if found is None or found.errors:
        return redirect(url_for("report.raise_form"))
    try:
        page = checking.answers_page(found.values, found.file)
    except InvalidInput:
        # Something changed since "Continue" (a guardian left the roster): the form, every word kept, says what.
        return redirect(url_for("report.raise_form"))
    return render_template(
        "report/check_answers.html",
        page=page,
        submission_token=found.values.get(submissions.FORM_FIELD, ""),
        answers_marker=once.kept_marker(),
        kept_minutes=current_app.config["KEPT_FORM_MINUTES"],
    )


@bp.post("/raise/check")
@once.checks_its_own_form  # the kept answers are read before the form's check forgets them
def submit_checked():
    found = kept_answers()
    marker = once.kept_marker()  # which answers are kept now: those this page showed, or others since
    refused = once.check_form(claim=False)  # a second send is answered by the submission token, as on /raise
    if refused is not None:
        return refused
    if g.get("database_down"):  # the answers stay kept: "Check your answers" shows them again once it is back
        errors.database_failed(g.database_down)
        return errors.form_refused(503)
    posted = request.form.get(submissions.FORM_FIELD, "")
    shown = request.form.get(ANSWERS_FIELD, "")
    if found is None or found.errors or found.values.get(submissions.FORM_FIELD) != posted or shown != marker:
        return _not_these_answers(found, posted)
    issued = session.get(ISSUED, [])
    if posted not in issued:  # a token planted by another site opens nothing (raising._form_send)
        return once.refuse()
    sent = submissions.from_form(posted)
    try:
        checking.raise_checked(found.values, found.file, sent, languages.page_code())
    except submissions.AlreadySent:
        pass  # sent twice: the same confirmation, no second concern
    except InvalidInput as exc:
        # Something changed since "Continue": back to the form by its field, every answer and the file kept.
        form = cast(ConcernForm, ConcernForm.from_kept(found))
        return form.came_back_with(exc.errors, found.file, to=url_for("report.raise_form"))
    except DBAPIError as exc:
        form = cast(ConcernForm, ConcernForm.from_kept(found))
        return not_saved(form, found.file, exc)
    session[CONFIRMATION] = sent.token
    return redirect(url_for("report.confirmation"), 303)


def _not_these_answers(found: Kept | None, posted: str):
    """This page's answers are not the ones kept: sent already (a double click, Reload), changed in another tab, or
    forgotten (their minutes passed, or the person left)."""
    already = already_raised(posted)
    if already is not None:
        return already
    if found is not None and not found.errors:
        # Kept again for this send, so "Check your answers" shows the answers that would now be sent.
        flash(str(REPLACED), NOTICE)  # kept in the session as this request's words
        to, back = url_for("report.check_answers"), url_for("report.raise_form")
        return once.keep(ConcernForm.form_name(), found.values, {}, to=to, also=(back,), file=found.file)
    flash(str(FORGOTTEN), NOTICE)
    return redirect(url_for("report.raise_form"), 303)
