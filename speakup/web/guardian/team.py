"""The Team page: every staff account with its role and state, and where an approved guardian approves a pending
one by typing the safety code the new guardian was shown at the end of enrolment."""

from __future__ import annotations

from flask import Blueprint, abort, flash, get_flashed_messages, redirect, render_template, url_for
from flask_login import current_user
from werkzeug.wrappers import Response

from speakup.domain import staff
from speakup.keys import approvals, roster
from speakup.platform.inputs import parse_int
from speakup.platform.models import User
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
    me = current_user.user
    keys = staff_keys()  # the code of the keys this person holds, never of the stored row
    member = roster.current_roster().member(me.id)
    form = ApproveForm.shown()
    notice = get_flashed_messages(category_filter=[APPROVED])
    return render_template(
        "guardian/team.html",
        staff=staff.staff_states(),
        me_approved=member is not None,
        me_can_approve=member is not None and member.signing_public_key is not None,
        my_safety_code=roster.safety_code_held(keys.private_key, keys.signing_key),
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
    except approvals.ApprovalRefused as refused:
        form.values[FOR] = str(user.id)
        return form.came_back({refused.field: refused.message}, to=url_for("team.team") + f"#safety_code-{user.id}")
    flash(_what_the_approval_did(user), APPROVED)
    return redirect(url_for("team.team"), 303)


def _what_the_approval_did(user: User) -> str:
    verified = roster.current_roster()
    if verified.member(user.id) is not None:
        return f"{user.name} is approved. New concerns will reach them; share older cases with them if they need them."
    waiting = verified.approvals_of(user.id)
    count = f"{waiting.have} of {waiting.need} approvals" if waiting else "an approval"
    can_approve = [m for m in verified.guardians(exclude_ids=(user.id,)) if m.signing_public_key is not None]
    if waiting is not None and len(can_approve) < waiting.need:
        return (
            f"Your approval of {user.name} is recorded ({count}). Fewer guardians are approved now than there have "
            "been, so your Freedom to Speak Up lead must approve them with the organisation key."
        )
    return (
        f"Your approval of {user.name} is recorded ({count}). Another guardian must also check their safety code "
        "and approve them."
    )
