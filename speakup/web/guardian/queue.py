"""The triage queue and finding a case by its reference."""

from __future__ import annotations

from flask import abort, redirect, render_template, request, url_for
from flask_login import current_user

from speakup.domain import references, team, triage, workflow
from speakup.domain.triage import ASSIGNED, DUE
from speakup.platform.translation import gettext as _
from speakup.platform.translation import lazy_gettext as _l
from speakup.web.forms import DomainForm
from speakup.web.guardian import bp
from speakup.web.guardian.auth import guardian_required, signed_in_guardian_required, staff_keys


@bp.get("/")
@signed_in_guardian_required
def queue():
    me = current_user.user
    if not team.on_roster(me.id):
        # Waiting for approval (or an approval that no longer verifies): no case is listed or opened.
        return render_template("guardian/pending.html", safety_code=team.safety_code_held(staff_keys()))
    return _queue_page(request.args.to_dict())


NO_SUCH_CASE = _l("No case you can open has that reference. Check it with the person, or look for it in the list below")


class FindForm(DomainForm):
    field_names = ("reference",)


@bp.post("/find")
@guardian_required
def find_case():
    """Straight to a case from its reference (someone phones with it): spaces, lower case and a missing "SU-"
    are forgiven. A reference the guardian cannot open gets the same answer as one that does not exist. Posted,
    not a query: History would keep the reference in the address, as it keeps the case page's (its id)."""
    form = FindForm()
    typed = form.values["reference"][:40]
    case = references.case_openable_by(typed, current_user.user.id)
    if case is None:
        form.values["reference"] = typed
        return form.came_back({"reference": str(NO_SUCH_CASE) if typed.strip() else _("Enter a case reference")})
    return redirect(url_for("guardian.case_page", address=case.id), 303)


def _queue_page(args: dict[str, str]):
    try:
        shown = triage.guardian_queue_page(current_user.user.id, args)
    except triage.BadFilter:
        abort(400)
    return render_template(
        "guardian/queue.html",
        roster_changes=shown.roster_changes,
        page=shown.page,
        filters=shown.filters,
        labels=workflow.GUARDIAN_LABELS,
        needs=shown.needs,
        mail_failing=shown.mail_failing,
        themes=shown.themes,
        assigned_choices=ASSIGNED,
        due_choices=DUE,
        find=FindForm.shown(),
    )
