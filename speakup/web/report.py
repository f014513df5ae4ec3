"""Raising a concern: the home page, the form and the one-time confirmation."""

from __future__ import annotations

from datetime import date

from flask import Blueprint, current_app, render_template, request
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import DBAPIError

from .. import cases
from ..categories import ANONYMITY_LABELS, lists_for
from ..errors import error_page
from ..extensions import submit_limit
from ..models import db
from .forms import DomainForm

bp = Blueprint("report", __name__)


class ConcernForm(DomainForm):
    field_names = cases.CONCERN_FIELDS


@bp.get("/")
def home():
    return render_template("report/home.html")


def _guardian_choices() -> dict[str, str]:
    """Guardians a reporter may keep out. The form still works, without this list, if the database is down."""
    try:
        return {str(g.id): g.name for g in cases.all_guardians()}
    except DBAPIError:
        db.session.rollback()
        return {}


def _render_form(form: ConcernForm, status: int = 200):
    return (
        render_template(
            "report/raise.html",
            form=form,
            anonymity_options=ANONYMITY_LABELS,
            worker_groups=lists_for(date.today()).worker_groups,
            guardians=_guardian_choices(),
            max_chars=current_app.config["MAX_CONCERN_CHARS"],
        ),
        status,
    )


@bp.get("/raise")
def raise_form():
    return _render_form(ConcernForm())


@bp.post("/raise")
@submit_limit
def raise_submit():
    form = ConcernForm()
    if not form.validate_on_submit():  # only the CSRF token: the rules are the domain's
        return _render_form(form, 400)
    try:
        concern = cases.check_concern(form.values)
        raised = cases.raise_concern(concern)
    except cases.InvalidInput as exc:
        form.fail(exc.errors)
        return _render_form(form, 400)
    except DBAPIError:
        # Keep every word they wrote: the form comes back with it and a 503 explains.
        form.fail(
            {
                "service": "We could not save your concern just now. Nothing was stored. "
                "Please try again in a few minutes."
            }
        )
        return _render_form(form, 503)
    return render_template("report/confirmation.html", raised=raised)


@bp.errorhandler(CSRFError)
def _expired_form(error: CSRFError):
    """A form left open too long must not cost the person what they wrote."""
    if request.endpoint != "report.raise_submit":
        return error_page(400)
    form = ConcernForm(meta={"csrf": False})
    form.fail({"service": "For your security this form timed out. Check your words below and submit again."})
    return _render_form(form, 400)
