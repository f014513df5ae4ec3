"""Recording a concern someone raised with a guardian in person, by phone, email, letter or through a champion.

One form, one concern, as on /raise: the form answers with a redirect, so Reload and Back never record it twice
(speakup/web/once.py), and the page it leads to shows the reference and, when the person asked for one, their
access code, from what the recording sealed under a token only this guardian's session holds
(speakup/domain/submissions.py), for CONFIRMATION_MINUTES or until the guardian says they handed it over."""

from __future__ import annotations

from flask import current_app, flash, redirect, render_template, request, session, url_for
from flask_login import current_user

from speakup.domain import characteristics, recording, references, submissions
from speakup.domain.categories import ANONYMITY_LABELS, RECORDED_CHANNELS, lists_for
from speakup.platform import clock
from speakup.platform.inputs import InvalidInput
from speakup.platform.public_urls import public_url
from speakup.web.forgetting import RECORDED  # the session's slot: the token the recorded answer opens with
from speakup.web.forms import DomainForm
from speakup.web.guardian import bp
from speakup.web.guardian.auth import guardian_required

HANDED_OVER = "recorded-handed-over"  # the flash on the queue once the code is no longer shown


class RecordForm(DomainForm):
    field_names = recording.RECORD_FIELDS


@bp.route("/record", methods=["GET", "POST"])
@guardian_required
def record_concern():
    if request.method == "GET":
        return render_template(
            "guardian/record.html",
            form=RecordForm.shown(),
            channels=RECORDED_CHANNELS,
            anonymity_options=ANONYMITY_LABELS,
            worker_groups=lists_for(clock.uk_today()).worker_groups,
            questions=characteristics.questions_for(clock.uk_today()),
            max_chars=current_app.config["MAX_CONCERN_CHARS"],
        )
    form = RecordForm()
    sent = submissions.from_form(submissions.new_form_token())
    try:
        recording.record_concern(form.values, current_user.user, sent)
    except InvalidInput as refused:
        return form.came_back(refused.errors)
    session[RECORDED] = sent.token
    return redirect(url_for("guardian.recorded"), 303)


@bp.get("/record/done")
@guardian_required
def recorded():
    """The reference and the access code, from the sealed answer the recording left, while they may be shown."""
    token = session.get(RECORDED)
    done = submissions.find(submissions.from_form(token)) if token else None
    if done is None:
        return redirect(url_for("guardian.record_concern"))
    if done.answer is None:
        session.pop(RECORDED, None)  # no longer shown: nor is anything else about it
    follow_up_url = public_url("/follow-up")
    case = references.case_by_reference(done.reference)  # its page is linked by its id, never its reference
    return render_template(
        "guardian/recorded.html",
        answer=done.answer,
        follow_up_url=follow_up_url,
        case_address=case.id if case is not None else None,
    )


@bp.post("/record/done")
@guardian_required
def handed_over():
    """The guardian handed the code over: it is no longer kept or shown, so nobody at this computer sees it again."""
    token = session.pop(RECORDED, None)
    if token:
        submissions.forget_code(submissions.from_form(token))
    flash("The access code is no longer shown.", HANDED_OVER)
    return redirect(url_for("guardian.queue"), 303)
