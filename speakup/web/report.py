"""Raising a concern: the home page, the form and the one-time confirmation."""

from __future__ import annotations

from datetime import date

from flask import Blueprint, current_app, render_template, request
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import DBAPIError

from speakup.domain import characteristics, files, raising
from speakup.domain.categories import ANONYMITY_LABELS, lists_for
from speakup.platform import imaging
from speakup.platform.extensions import csrf, submit_limit
from speakup.platform.inputs import InvalidInput
from speakup.platform.models import db
from speakup.web.errors import error_page
from speakup.web.forms import DomainForm
from speakup.web.uploads import accept_upload, uploaded_file

bp = Blueprint("report", __name__)


class ConcernForm(DomainForm):
    field_names = (*raising.CONCERN_FIELDS, *characteristics.FIELDS, imaging.FIELD)

    def concern(self) -> dict[str, object]:
        return {**self.values, "characteristics": characteristics.from_form(self.values)}


@bp.get("/")
def home():
    return render_template("report/home.html")


@bp.get("/other-ways")
def other_ways():
    """Speaking up some other way: the trust's guardians and champions, line management, bodies outside, and what
    to do in an emergency. Every contact comes from the settings (config/default.py), none from the code."""
    config = current_app.config
    return render_template(
        "report/other_ways.html",
        contacts=config["SPEAK_UP_CONTACTS"],
        line_management=config["LINE_MANAGEMENT"],
        external=config["EXTERNAL_ROUTES"],
        emergency=config["EMERGENCY_ADVICE"],
    )


KEPT_EXCLUSION = "The guardian you chose (the list cannot be shown just now)"


def _guardian_choices(form: ConcernForm, database_down: bool = False) -> dict[str, str]:
    """Guardians a reporter may keep out. The form still works, without this list, if the database is down;
    a guardian already chosen stays chosen, so sending the form again can never drop the exclusion."""
    if not database_down:
        try:
            return {str(g.id): g.name for g in raising.all_guardians()}
        except DBAPIError:
            db.session.rollback()
    chosen = form.values.get("exclude_guardian", "")
    return {chosen: KEPT_EXCLUSION} if chosen else {}


def _render_form(form: ConcernForm, status: int = 200, choose_file_again: bool = False, database_down: bool = False):
    return (
        render_template(
            "report/raise.html",
            form=form,
            anonymity_options=ANONYMITY_LABELS,
            worker_groups=lists_for(date.today()).worker_groups,
            questions=characteristics.questions_for(date.today()),
            how_answers_are_kept=characteristics.HOW_ANSWERS_ARE_KEPT,
            # After a failed save, asking again would only wait out the database timeout a second time.
            guardians=_guardian_choices(form, database_down),
            max_chars=current_app.config["MAX_CONCERN_CHARS"],
            attachment_hint=imaging.limits_text(),
            attachment_accept=imaging.accept_attribute(),
            choose_file_again=choose_file_again,
        ),
        status,
    )


@bp.get("/raise")
def raise_form():
    return _render_form(ConcernForm())


@bp.post("/raise")
@csrf.exempt  # checked by accept_upload(), once this request may carry a file
@submit_limit
def raise_submit():
    accept_upload()
    form = ConcernForm()
    if not form.validate_on_submit():  # only the CSRF token: the rules are the domain's
        return _render_form(form, 400)
    upload = uploaded_file()
    try:
        # The file is checked (and cleaned) before anything is raised: a refused file raises nothing.
        concern, clean = files.check_concern_with_file(form.concern(), upload)
        raised, file_kept = files.raise_with_file(concern, clean)
    except InvalidInput as exc:
        form.fail(exc.errors)
        # A browser never sends a file back: ask for it again if it was fine.
        return _render_form(form, 400, choose_file_again=upload is not None and imaging.FIELD not in exc.errors)
    except DBAPIError:
        # Keep every word they wrote: the form comes back with it and a 503 explains.
        form.fail(
            {
                "service": "We could not save your concern just now. Nothing was stored. "
                "Please try again in a few minutes."
            }
        )
        return _render_form(form, 503, choose_file_again=upload is not None, database_down=True)
    removed = clean.removed_text if clean is not None and file_kept else ""
    return render_template("report/confirmation.html", raised=raised, file_not_kept=not file_kept, removed=removed)


@bp.errorhandler(CSRFError)
def _expired_form(error: CSRFError):
    """A form left open too long must not cost the person what they wrote."""
    if request.endpoint != "report.raise_submit":
        return error_page(400)
    form = ConcernForm(meta={"csrf": False})
    form.fail({"service": "For your security this form timed out. Check your words below and submit again."})
    return _render_form(form, 400, choose_file_again=uploaded_file() is not None)
