"""The enrolment link: the person an account is for chooses their password and security code, and a guardian is
shown the safety code another guardian will check before approving them.

The token travels in the query string, never the path, so gunicorn's access log (which records paths without
queries) never holds a usable link."""

from __future__ import annotations

from flask import Blueprint, current_app, render_template, request

from speakup.domain import enrolment
from speakup.web.errors import error_page
from speakup.web.forms import DomainForm

bp = Blueprint("enrol", __name__, url_prefix="/enrol")

UNUSABLE = {
    "unknown": ("This link does not work", "Check you copied the whole link. If it still does not work, ask your "
                "administrator for a new one."),
    "used": ("This link has already been used", "Each link works once. If you did not use it yourself, tell your "
             "administrator straight away. To sign in, go to the sign-in page."),
    "expired": ("This link has expired", "Links work for a limited time. Ask your administrator for a new one."),
    "disabled": ("This account is disabled", "Ask your administrator about your account."),
}  # fmt: skip


class EnrolForm(DomainForm):
    field_names = ("password", "confirm", "security_code")


def _unusable(error: enrolment.LinkUnusable):
    title, body = UNUSABLE[error.reason]
    return error_page(error.status, title=title, body=body)


def _form_page(form: EnrolForm, token: str, totp_text: str, user, status: int = 200):
    form.values["password"] = form.values["confirm"] = ""  # a password is never sent back to the browser
    return render_template(
        "enrol/enrol.html",
        form=form,
        token=token,
        user=user,
        totp_text=totp_text,
        qr_svg=enrolment.totp_qr_svg(totp_text, user) if totp_text else None,
    ), status


@bp.route("", methods=["GET", "POST"])
def enrol():
    token = (request.form.get("token") if request.method == "POST" else request.args.get("token")) or ""
    try:
        link = enrolment.open_link(token)
    except enrolment.LinkUnusable as error:
        return _unusable(error)
    mfa = current_app.config["REQUIRE_MFA"]
    form = EnrolForm()
    if request.method == "GET":
        return _form_page(form, token, enrolment.new_totp_text() if mfa else "", link.user)
    totp_text = request.form.get("totp_secret", "") if mfa else ""
    try:
        done = enrolment.complete(token, form.values["password"], form.values["confirm"], totp_text,
                                  form.values["security_code"])  # fmt: skip
    except enrolment.LinkUnusable as error:
        return _unusable(error)
    except enrolment.EnrolmentInvalid as invalid:
        form.fail(invalid.errors)
        return _form_page(form, token, totp_text, link.user, 400)
    return render_template("enrol/done.html", user=done.user, safety_code=done.safety_code)
