"""Giving the person who raised a case a new access code when they lost theirs (speakup/domain/lost_codes.py).

The form answers with a redirect to a page that shows the new code on a slip, once, from what the action sealed
under a token only this guardian's session holds, for CONFIRMATION_MINUTES or until they say they handed it over:
Reload and Back never make another code, and the next person at this computer sees nothing.

The button is one of the case page's (one form, ``formaction``): the words typed in its other sections are kept
sealed for this browser, as any other section's button keeps them, while the slip is shown, and shown again back on
the case, by the slip's link or once the code is handed over (speakup/web/guardian/case.py, PAGE)."""

from __future__ import annotations

from flask import flash, redirect, session, url_for
from flask_login import current_user

from speakup.domain import lost_codes, recording
from speakup.platform.translation import gettext as _
from speakup.web import once
from speakup.web.forgetting import NEW_CODE  # the session's slot: the token the new code is shown with
from speakup.web.guardian import bp
from speakup.web.guardian.auth import guardian_required, staff_keys
from speakup.web.guardian.case import NEW_CODE_REFUSED, PAGE, back_to_case, case_url, get_case, words_elsewhere
from speakup.web.guardian.record import slip_page


@bp.post("/cases/<address>/new-access-code")
@guardian_required
def give_new_access_code(address: str):
    case, case_key = get_case(address)
    try:
        session[NEW_CODE] = lost_codes.give_new_access_code(case, case_key, current_user.user, staff_keys())
    except lost_codes.NewCodeRefused as refused:
        flash(str(refused), NEW_CODE_REFUSED)
        return back_to_case(case, "#new-access-code")
    slip = url_for("guardian.new_access_code")
    elsewhere = words_elsewhere()
    if elsewhere:  # for the slip's page, and the case's beside it
        return once.keep(PAGE, elsewhere, {}, slip, also=(case_url(case),))
    return redirect(slip, 303)


@bp.get("/new-access-code")
@guardian_required
def new_access_code():
    """The new code on a slip, while it may be shown; then only that it is no longer shown."""
    return slip_page(NEW_CODE, "guardian/new_code.html", "guardian.queue")


@bp.post("/new-access-code")
@guardian_required
@once.checks_its_own_form  # the case's kept words are read before the form's check forgets them
def new_code_handed_over():
    """The code handed over: no longer shown; back to the case it was given for, its kept words with it."""
    kept = once.kept(PAGE)
    refused = once.check_form()
    if refused is not None:
        return refused
    token = session.pop(NEW_CODE, None)
    page = recording.recorded_page(token) if token else None
    if token:
        recording.handed_over(token)
    flash(_("The new access code is no longer shown."), "case-done")
    if page is None or page.case_address is None:
        return redirect(url_for("guardian.queue"), 303)
    back = url_for("guardian.case_page", address=page.case_address)
    if kept is not None and kept.values:
        return once.keep(PAGE, kept.values, {}, back)
    return redirect(back, 303)
