"""Recording a concern someone raised with a guardian in person, by phone, email, letter or through a champion.

One form, one concern, as on /raise: the form answers with a redirect, so Reload and Back never record it twice
(speakup/web/once.py), and the page it leads to shows the reference and, when the person asked for one, their
access code, from what the recording sealed under a token only this guardian's session holds
(speakup/domain/submissions.py), for CONFIRMATION_MINUTES or until the guardian says they handed it over."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user

from speakup.domain import recording
from speakup.platform.inputs import InvalidInput
from speakup.platform.translation import gettext as _
from speakup.web.forgetting import RECORDED  # the session's slot: the token the recorded answer opens with
from speakup.web.forms import DomainForm
from speakup.web.guardian import bp
from speakup.web.guardian.auth import guardian_required, keeps_words_at_time_out

HANDED_OVER = "recorded-handed-over"  # the flash on the queue once the code is no longer shown


class RecordForm(DomainForm):
    field_names = recording.RECORD_FIELDS


keeps_words_at_time_out("guardian.record_concern", RecordForm.form_name(), RecordForm.field_names)


@bp.route("/record", methods=["GET", "POST"])
@guardian_required
def record_concern():
    if request.method == "GET":
        return render_template("guardian/record.html", form=RecordForm.shown(), page=recording.record_form_page())
    form = RecordForm()
    try:
        recorded = recording.record_concern(form.values, current_user.user)
    except InvalidInput as refused:
        return form.came_back(refused.errors)
    session[RECORDED] = recorded.shown_with
    return redirect(url_for("guardian.recorded"), 303)


@bp.get("/record/done")
@guardian_required
def recorded():
    """The reference and the access code, from the sealed answer the recording left, while they may be shown."""
    return slip_page(RECORDED, "guardian/recorded.html", "guardian.record_concern")


def slip_page(slot: str, template: str, otherwise: str) -> ResponseReturnValue:
    """A page showing an access code on a slip, from the answer sealed under the token the session's ``slot`` holds,
    while it may be shown; then only that it is no longer shown. Without one, to the ``otherwise`` endpoint."""
    token = session.get(slot)
    page = recording.recorded_page(token) if token else None
    if page is None:
        return redirect(url_for(otherwise))
    if page.answer is None:
        session.pop(slot, None)  # no longer shown: nor is anything else about it
    return render_template(template, page=page)


@bp.post("/record/done")
@guardian_required
def handed_over():
    """The guardian handed the code over: it is no longer kept or shown, so nobody at this computer sees it again."""
    token = session.pop(RECORDED, None)
    if token:
        recording.handed_over(token)
    flash(_("The access code is no longer shown."), HANDED_OVER)
    return redirect(url_for("guardian.queue"), 303)
