"""The guardian's download of the national return for NHS England: a small GET form and the CSV itself."""

from __future__ import annotations

from urllib.parse import urlencode

from flask import Response, redirect, render_template, request, url_for
from flask_login import current_user

from speakup.domain import quarters
from speakup.platform import clock
from speakup.platform.translation import gettext as _
from speakup.platform.translation import lazy_gettext as _l
from speakup.reporting import national_return
from speakup.web.guardian import bp
from speakup.web.guardian.auth import guardian_required

QUARTERS_OFFERED = 8
VERSION_LABELS = {
    national_return.SUBMISSION: _l("For submission to NHS England: exact counts, not for publication"),
    national_return.PUBLISHED: _l("For publication (a board paper, for example): small numbers suppressed"),
}


class ReturnForm:
    """What the template's form macros read: the fields' values and their errors, if any."""

    field_names = ("quarter", "version")

    def __init__(self, quarter: str, version: str, errors: dict[str, str] | None = None):
        self.values = {"quarter": quarter, "version": version}
        self.field_errors = errors or {}


def _page(form: ReturnForm, status: int = 200):
    offered = quarters.ended_quarters(clock.uk_today(), QUARTERS_OFFERED)
    choices = {quarter.label: f"{quarter.financial_heading} ({quarter.months})" for quarter in offered}
    return render_template("guardian/reports.html", form=form, quarters=choices, versions=VERSION_LABELS), status


@bp.get("/reports")
@guardian_required
def reports_page():
    default = quarters.previous_quarter(clock.uk_today()).label
    return _page(ReturnForm(request.args.get("quarter", default)[:20], national_return.SUBMISSION))


@bp.get("/reports/national-return.csv")
@guardian_required
def national_return_csv():
    text, version = request.args.get("quarter", "")[:20], request.args.get("version", "")[:20]
    errors: dict[str, str] = {}
    if version not in national_return.VERSIONS:
        errors["version"] = _("Choose which version: for submission to NHS England, or for publication.")
    try:
        quarter = quarters.parse_quarter(text)
    except quarters.BadQuarter:
        errors["quarter"] = _("Choose a quarter from the list, for example 2026/27 Q2.")
    if errors:
        return _page(ReturnForm(text, version, errors), 400)
    try:
        body = national_return.export_csv(quarter, version, current_user.user.id, say=_)  # in the page's language
    except national_return.QuarterNotEnded:
        message = _(
            "%(quarter)s has not ended yet. Choose a quarter that has ended.", quarter=quarter.financial_heading
        )
        return _page(ReturnForm(text, version, {"quarter": message}), 400)
    filename = f"national-return-{quarter.financial_heading.replace('/', '-').replace(' ', '-')}"
    response = Response(body, mimetype="text/csv")
    suffix = "for-submission" if version == national_return.SUBMISSION else "published"
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}-{suffix}.csv"'
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/reports/ngo-return.csv")
@guardian_required
def ngo_return_csv():
    """The download's address while the National Guardian's Office collected the return, for bookmarks."""
    query = {name: request.args.get(name, "")[:20] for name in ReturnForm.field_names if name in request.args}
    return redirect(f"{url_for('guardian.national_return_csv')}?{urlencode(query)}", 301)
