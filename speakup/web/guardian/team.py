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
    keys = staff_keys()  # the code of the keys this person holds, never of the stored row
    member = roster.current_roster().member(me.id)
    return render_template(
        "guardian/team.html",
        staff=staff.staff_states(),
        me_approved=member is not None,
        me_can_approve=member is not None and member.signing_public_key is not None,
        my_safety_code=roster.safety_code_held(keys.private_key, keys.signing_key),
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
    verified = roster.current_roster()
    if verified.member(user.id) is None:
        waiting = verified.approvals_of(user.id)
        count = f"{waiting.have} of {waiting.need} approvals" if waiting else "an approval"
        can_approve = [m for m in verified.guardians(exclude_ids=(user.id,)) if m.signing_public_key is not None]
        if waiting is not None and len(can_approve) < waiting.need:
            return _team_page(notice=f"Your approval of {user.name} is recorded ({count}). Fewer guardians are "
                                     "approved now than there have been, so your Freedom to Speak Up lead must "
                                     "approve them with the organisation key.")  # fmt: skip
        return _team_page(notice=f"Your approval of {user.name} is recorded ({count}). Another guardian must also "
                                 "check their safety code and approve them.")  # fmt: skip
    return _team_page(notice=f"{user.name} is approved. New concerns will reach them; share older cases with them "
                             "if they need them.")  # fmt: skip
