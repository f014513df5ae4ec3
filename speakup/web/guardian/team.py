"""The Team page: every staff account with its role and state, and where an approved guardian approves a pending
one by typing the safety code the new guardian was shown at the end of enrolment."""

from __future__ import annotations

from flask import Blueprint, abort, render_template
from flask_login import current_user

from speakup.domain import staff
from speakup.keys import approvals, roster
from speakup.web.forms import DomainForm
from speakup.web.guardian.auth import signed_in_guardian_required, staff_keys

bp = Blueprint("team", __name__, url_prefix="/guardian/team")


class ApproveForm(DomainForm):
    field_names = ("safety_code",)


def _team_page(form: ApproveForm | None = None, form_for: int | None = None, status: int = 200, notice: str = ""):
    me = current_user.user
    return render_template(
        "guardian/team.html",
        staff=staff.staff_states(),
        me_approved=roster.current_roster().member(me.id) is not None,
        my_safety_code=roster.safety_code_of(me),
        form=form or ApproveForm(),
        form_for=form_for,
        notice=notice,
    ), status


@bp.get("", endpoint="team")
@signed_in_guardian_required
def team_page():
    return _team_page()


@bp.post("/<int:user_id>/approve")
@signed_in_guardian_required
def approve(user_id: int):
    user = staff.get_user(user_id)
    if user is None:
        abort(404)
    form = ApproveForm()
    try:
        staff.approve_guardian(user, current_user.user, staff_keys(), form.values["safety_code"])
    except approvals.ApprovalRefused as refused:
        form.fail({refused.field: refused.message})
        return _team_page(form, user.id, 400)
    return _team_page(notice=f"{user.name} is approved. New concerns will reach them; share older cases with them "
                             "if they need them.")  # fmt: skip
