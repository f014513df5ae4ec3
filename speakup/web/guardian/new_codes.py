"""Giving the person who raised a case a new access code when they lost theirs (speakup/domain/lost_codes.py).

The form answers with a redirect to a page that shows the new code on a slip, once, from what the action sealed
under a token only this guardian's session holds, for CONFIRMATION_MINUTES or until they say they handed it over:
Reload and Back never make another code, and the next person at this computer sees nothing."""

from __future__ import annotations

from flask import flash, redirect, session, url_for
from flask_login import current_user

from speakup.domain import lost_codes, recording
from speakup.web.forgetting import NEW_CODE  # the session's slot: the token the new code is shown with
from speakup.web.guardian import bp
from speakup.web.guardian.auth import guardian_required
from speakup.web.guardian.case import NEW_CODE_REFUSED, back_to_case, get_case
from speakup.web.guardian.record import slip_page


@bp.post("/cases/<address>/new-access-code")
@guardian_required
def give_new_access_code(address: str):
    case, case_key = get_case(address)
    try:
        session[NEW_CODE] = lost_codes.give_new_access_code(case, case_key, current_user.user)
    except lost_codes.NewCodeRefused as refused:
        flash(str(refused), NEW_CODE_REFUSED)
        return back_to_case(case, "#new-access-code")
    return redirect(url_for("guardian.new_access_code"), 303)


@bp.get("/new-access-code")
@guardian_required
def new_access_code():
    """The new code on a slip, while it may be shown; then only that it is no longer shown."""
    return slip_page(NEW_CODE, "guardian/new_code.html", "guardian.queue")


@bp.post("/new-access-code")
@guardian_required
def new_code_handed_over():
    token = session.pop(NEW_CODE, None)
    if token:
        recording.handed_over(token)
    flash("The new access code is no longer shown.", "case-done")
    return redirect(url_for("guardian.queue"), 303)
