"""Recording a concern someone raised with a guardian in person, by phone, email, letter or through a champion."""

from __future__ import annotations

from datetime import date

from flask import current_app, render_template, request
from flask_login import current_user

from speakup.domain import characteristics, recording
from speakup.domain.categories import ANONYMITY_LABELS, RECORDED_CHANNELS, lists_for
from speakup.platform.inputs import InvalidInput
from speakup.web.forms import DomainForm
from speakup.web.guardian import bp
from speakup.web.guardian.auth import guardian_required


class RecordForm(DomainForm):
    field_names = recording.RECORD_FIELDS


def _form_page(form: RecordForm, status: int = 200):
    return (
        render_template(
            "guardian/record.html",
            form=form,
            channels=RECORDED_CHANNELS,
            anonymity_options=ANONYMITY_LABELS,
            worker_groups=lists_for(date.today()).worker_groups,
            questions=characteristics.questions_for(date.today()),
            max_chars=current_app.config["MAX_CONCERN_CHARS"],
        ),
        status,
    )


@bp.route("/record", methods=["GET", "POST"])
@guardian_required
def record_concern():
    form = RecordForm()
    if request.method == "GET":
        return _form_page(form)
    if not form.validate_on_submit():  # only the CSRF token: the rules are the domain's
        return _form_page(form, 400)
    try:
        recorded = recording.record_concern(form.values, current_user.user)
    except InvalidInput as refused:
        form.fail(refused.errors)
        return _form_page(form, 400)
    follow_up_url = str(current_app.config["PUBLIC_BASE_URL"]).rstrip("/") + "/follow-up"
    return render_template("guardian/recorded.html", recorded=recorded, follow_up_url=follow_up_url)
