"""The guardian's download of the national return: a small GET form and the CSV itself."""

from __future__ import annotations

from flask import Response, render_template, request
from flask_login import current_user

from speakup.domain import quarters
from speakup.platform import clock
from speakup.reporting import national_return
from speakup.web.guardian import bp
from speakup.web.guardian.auth import guardian_required


class QuarterForm:
    """What the template's form macros read: the field's value and its error, if any."""

    field_names = ("quarter",)

    def __init__(self, quarter: str, error: str | None = None):
        self.values = {"quarter": quarter}
        self.field_errors = {"quarter": error} if error else {}


def _page(form: QuarterForm, status: int = 200):
    return render_template("guardian/reports.html", form=form), status


@bp.get("/reports")
@guardian_required
def reports_page():
    default = quarters.previous_quarter(clock.uk_today()).label
    return _page(QuarterForm(request.args.get("quarter", default)))


@bp.get("/reports/ngo-return.csv")
@guardian_required
def ngo_return_csv():
    text = request.args.get("quarter", "")
    try:
        quarter = quarters.parse_quarter(text)
    except quarters.BadQuarter as exc:
        return _page(QuarterForm(text[:20], str(exc)), 400)
    body = national_return.export_csv(quarter, current_user.user.id)
    response = Response(body, mimetype="text/csv")
    response.headers["Content-Disposition"] = f'attachment; filename="ngo-return-{quarter.label}.csv"'
    response.headers["Cache-Control"] = "no-store"
    return response
