"""Sharing from the guardian's pages: one case with a colleague (or asking to, against the reporter's wish, which
a second guardian confirms), and every case a guardian holds with a new colleague (Share all)."""

from __future__ import annotations

import dataclasses

from flask import flash, get_flashed_messages, redirect, render_template, request, url_for
from flask_login import current_user

from speakup.domain import sharing
from speakup.platform.inputs import parse_int
from speakup.web.forms import DomainForm
from speakup.web.guardian import bp
from speakup.web.guardian.auth import guardian_required, private_key
from speakup.web.guardian.case import EXCLUDED, SHARE_REFUSED, CaseForm, back_to_case, case_done, case_url, get_case


@bp.post("/cases/<address>/share")
@guardian_required
def share(address: str):
    case, case_key = get_case(address)
    form = CaseForm("share")
    override = form.values.get("override_exclusion") == "yes"
    try:
        done = sharing.share_from_case_page(
            case, case_key, parse_int(form.values["share_with"]), current_user.user, override
        )
    except sharing.ShareRefused as refused:
        if refused.offer_override:
            form.values[EXCLUDED] = "yes"  # the page offers the override
        return form.came_back({"share_with": str(refused)}, to=case_url(case, "#sharing"))
    return case_done(case, done, "#sharing", "share")


@bp.post("/cases/<address>/share-requests/<uid>/<any(confirm, cancel):decision>")
@guardian_required
def decide_share_request(address: str, uid: str, decision: str):
    """A second guardian confirms sharing with an excluded guardian, or anyone holding the case cancels it."""
    case, case_key = get_case(address)
    try:
        done = sharing.decide(case, case_key, uid, decision == "confirm", current_user.user)
    except sharing.ShareRefused as refused:
        flash(str(refused), SHARE_REFUSED)  # the case page shows why, by the requests
        return back_to_case(case, "#sharing")
    return case_done(case, done, "#sharing")


class ShareAllForm(DomainForm):
    field_names = ("share_with",)


SHARED_ALL = "shared-all"  # the flash that tells the Share page what was shared, after the redirect


@bp.route("/share", methods=["GET", "POST"])
@guardian_required
def share_all():
    """Shares every case this guardian holds with a colleague (for example a new guardian)."""
    if request.method == "GET":
        done = get_flashed_messages(category_filter=[SHARED_ALL])
        return render_template(
            "guardian/share_all.html",
            form=ShareAllForm.shown(),
            choices=sharing.colleagues(current_user.user),
            result=done[0] if done else None,
        )
    form = ShareAllForm()
    try:
        shared = sharing.share_all_with(current_user.user, private_key(), form.values["share_with"])
    except sharing.ShareRefused as refused:
        return form.came_back({"share_with": str(refused)})
    # Counts and a colleague's name, shown once on the page this redirects to.
    flash(dataclasses.asdict(shared), SHARED_ALL)  # type: ignore[arg-type]  # the session carries a dict as well
    return redirect(url_for("guardian.share_all"), 303)
