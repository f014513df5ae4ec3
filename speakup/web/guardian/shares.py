"""Sharing from the guardian's pages: one case with a colleague (or asking to, against the reporter's wish, which
a second guardian confirms), and every case a guardian holds with a new colleague (Share all)."""

from __future__ import annotations

import dataclasses

from flask import flash, get_flashed_messages, redirect, render_template, request, url_for
from flask_login import current_user

from speakup.domain import sharing
from speakup.keys import exclusions, roster
from speakup.platform.inputs import parse_int
from speakup.web.forms import DomainForm
from speakup.web.guardian import bp
from speakup.web.guardian.auth import guardian_required, private_key
from speakup.web.guardian.case import EXCLUDED, SHARE_REFUSED, CaseForm, case_done, case_url, get_case


@bp.post("/cases/<address>/share")
@guardian_required
def share(address: str):
    case, case_key = get_case(address)
    form = CaseForm("share")
    user_id = parse_int(form.values["share_with"])
    user = roster.current_roster().member(user_id) if user_id is not None else None
    to_sharing = case_url(case, "#sharing")
    if user is None:
        return form.came_back({"share_with": "Choose a guardian to share this case with"}, to=to_sharing)
    if form.values.get("override_exclusion") == "yes":
        # Against the reporter's wish: only a request, until a second guardian confirms it (speakup/domain/sharing.py).
        try:
            sharing.request_override(case, case_key, user, current_user.user)
        except sharing.ShareRefused as refused:
            return form.came_back({"share_with": str(refused)}, to=to_sharing)
        return case_done(case, f"Asked to share with {user.name}: a second guardian must confirm it.", "#sharing")
    try:
        shared = sharing.share_with(case, case_key, user, current_user.user)
    except sharing.ShareRefused as refused:
        return form.came_back({"share_with": str(refused)}, to=to_sharing)
    except exclusions.ExcludedGuardian:
        form.values[EXCLUDED] = "yes"  # the page offers the override
        message = (
            f"The person who raised this concern asked for {user.name} not to see it. "
            "If it must go to them, tick the box: a second guardian will need to confirm."
        )
        return form.came_back({"share_with": message}, to=to_sharing)
    if not shared:
        return form.came_back({"share_with": f"{user.name} can already open this case"}, to=to_sharing)
    return case_done(case, f"Shared with {user.name}.", "#sharing")


@bp.post("/cases/<address>/share-requests/<uid>/<any(confirm, cancel):decision>")
@guardian_required
def decide_share_request(address: str, uid: str, decision: str):
    """A second guardian confirms sharing with an excluded guardian, or anyone holding the case cancels it."""
    case, case_key = get_case(address)
    try:
        if decision == "confirm":
            sharing.confirm(case, case_key, uid, current_user.user)
        else:
            sharing.cancel(case, case_key, uid, current_user.user)
    except sharing.ShareRefused as refused:
        flash(str(refused), SHARE_REFUSED)  # the case page shows why, by the requests
        return redirect(case_url(case, "#sharing"), 303)
    return case_done(case, "Shared." if decision == "confirm" else "Request cancelled.", "#sharing")


class ShareAllForm(DomainForm):
    field_names = ("share_with",)


SHARED_ALL = "shared-all"  # the flash that tells the Share page what was shared, after the redirect


def _colleagues() -> dict[str, str]:
    members = roster.current_roster().guardians(exclude_ids=(current_user.user.id,))
    return {str(m.id): f"{m.name} ({m.email})" for m in sorted(members, key=lambda m: m.name)}


@bp.route("/share", methods=["GET", "POST"])
@guardian_required
def share_all():
    """Shares every case this guardian holds with a colleague (for example a new guardian)."""
    choices = _colleagues()
    if request.method == "GET":
        done = get_flashed_messages(category_filter=[SHARED_ALL])
        return render_template(
            "guardian/share_all.html", form=ShareAllForm.shown(), choices=choices, result=done[0] if done else None
        )
    form = ShareAllForm()
    target = form.values["share_with"]
    if target not in choices:
        return form.came_back({"share_with": "Choose a guardian to share your cases with"})
    user = roster.current_roster().member(int(target))
    if user is None:  # left the roster since the choices were read
        return form.came_back({"share_with": "Choose a guardian to share your cases with"})
    result = sharing.share_all_cases(current_user.user, private_key(), user)
    # Counts and a colleague's name, shown once on the page this redirects to.
    flash({"name": user.name, **dataclasses.asdict(result)}, SHARED_ALL)  # type: ignore[arg-type]  # the session keeps a dict
    return redirect(url_for("guardian.share_all"), 303)
