"""The Team page: every staff account with its role and state, and where an approved guardian approves a pending
one by typing the safety code the new guardian was shown at the end of enrolment."""

from __future__ import annotations

from flask import Blueprint, abort, flash, get_flashed_messages, redirect, render_template, url_for
from flask_login import current_user
from werkzeug.wrappers import Response

from speakup.domain import staff, team
from speakup.platform.inputs import parse_int
from speakup.web.forms import DomainForm
from speakup.web.guardian.auth import signed_in_guardian_required, staff_keys

bp = Blueprint("team", __name__, url_prefix="/guardian/team")

FOR = "for"  # kept with a form that came back: whose row it was typed in (set by the view, never read from the post)
APPROVED = "team-approved"  # the flash that says what an approval did, on the page the redirect leads to


class ApproveForm(DomainForm):
    field_names = ("safety_code", FOR)


@bp.get("", endpoint="team")
@signed_in_guardian_required
def team_page():
    page = team.team_page(current_user.user, staff_keys())
    form = ApproveForm.shown()
    notice = get_flashed_messages(category_filter=[APPROVED])
    return render_template(
        "guardian/team.html",
        **vars(page),
        form=form,
        form_for=parse_int(form.values.get(FOR)) if form.field_errors else None,
        notice=notice[0] if notice else "",
    )


@bp.post("/<int:user_id>/approve")
@signed_in_guardian_required
def approve(user_id: int) -> Response:
    user = staff.get_user(user_id)
    if user is None:
        abort(404)
    form = ApproveForm()
    try:
        staff.approve_guardian(user, current_user.user, staff_keys(), form.values["safety_code"])
    except team.ApprovalRefused as refused:
        form.values[FOR] = str(user.id)
        return form.came_back({refused.field: refused.message}, to=url_for("team.team") + f"#safety_code-{user.id}")
    flash(team.what_the_approval_did(user), APPROVED)
    return redirect(url_for("team.team"), 303)
