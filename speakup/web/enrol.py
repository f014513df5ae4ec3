"""The enrolment link: the person an account is for chooses their password and security code, and a guardian is
shown the safety code another guardian will check before approving them.

The token travels in the query string, never the path, so gunicorn's access log (which records paths without
queries) never holds a usable link.

"Finish setting up" is answered with a redirect, never a page (speakup/web/once.py). A mistake sends the person
back to the form, which keeps for this browser only the link's token and the security-code secret they already
scanned (sealed under a secret only its session cookie holds, for ``KEPT_FORM_MINUTES``): never the password or
the code they typed, and nothing in the address. The safety code is kept the same way for the page that shows it."""

from __future__ import annotations

from flask import Blueprint, current_app, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from speakup.domain import enrolment
from speakup.platform.models import User
from speakup.platform.translation import lazy_gettext as _l
from speakup.web import once
from speakup.web.errors import error_page
from speakup.web.forms import DomainForm

bp = Blueprint("enrol", __name__, url_prefix="/enrol")

UNUSABLE = {
    "unknown": (_l("This link does not work"), _l("Check you copied the whole link. If it still does not work, ask "
                "your administrator for a new one.")),
    "used": (_l("This link has already been used"), _l("Each link works once. If you did not use it yourself, tell "
             "your administrator straight away. To sign in, go to the sign-in page.")),
    "expired": (_l("This link has expired"), _l("Links work for a limited time. Ask your administrator for a new "
                "one.")),
    "disabled": (_l("This account is disabled"), _l("Ask your administrator about your account.")),
    "unavailable": (_l("Links cannot be checked just now"), _l("Please try again later. If this keeps happening, "
                    "tell your administrator.")),
}  # fmt: skip

SECRET_FIELDS = ("password", "confirm", "security_code")  # typed by the person: never kept, never sent back
DONE_SLOT = "EnrolmentDone"  # the safety code kept for the page after "Finish setting up"


class EnrolForm(DomainForm):
    field_names = (*SECRET_FIELDS, "token", "totp_secret")


def _unusable(error: enrolment.LinkUnusable) -> tuple[str, int]:
    title, body = UNUSABLE[error.reason]
    return error_page(error.status, title=str(title), body=str(body))


def _form_page(form: EnrolForm, token: str, totp_text: str, user: User) -> str:
    return render_template(
        "enrol/enrol.html",
        form=form,
        token=token,
        user=user,
        totp_text=totp_text,
        qr_svg=enrolment.totp_qr_svg(totp_text, user) if totp_text else None,
    )


def _shown_form(token: str) -> EnrolForm:
    """The form as it came back a moment ago for this link, in this browser; otherwise an empty one."""
    form = EnrolForm.shown()
    if token and form.values["token"] and form.values["token"] != token:
        return EnrolForm()  # kept for another link
    return form


@bp.get("")
def enrol() -> str | tuple[str, int]:
    # After a mistake the address carries no token: the redirect leads here and the kept form holds it.
    form = _shown_form(request.args.get("token", ""))
    token = request.args.get("token") or form.values["token"]
    try:
        link = enrolment.link_for_enrolling(token)
    except enrolment.LinkUnusable as error:
        return _unusable(error)
    totp_text = ""
    if current_app.config["REQUIRE_MFA"]:
        # The secret they already scanned, if the form came back; a new one on any other visit.
        kept = form.values["totp_secret"]
        totp_text = kept if enrolment.totp_from_text(kept) is not None else enrolment.new_totp_text()
    return _form_page(form, token, totp_text, link.user)


@bp.post("")
def finish() -> Response:
    form = EnrolForm()
    values = form.values
    totp_text = values["totp_secret"] if current_app.config["REQUIRE_MFA"] else ""
    try:
        done = enrolment.complete(values["token"], values["password"], values["confirm"], totp_text,
                                  values["security_code"])  # fmt: skip
    except enrolment.LinkUnusable:
        # Used, expired, disabled or unknown (a changed hidden field too): the form's page says which, from the
        # token kept for it, and offers a new secret to scan.
        return _came_back(form, {}, keep_secret=False)
    except enrolment.EnrolmentInvalid as invalid:
        return _came_back(form, invalid.errors, keep_secret=True)
    safety_code = done.safety_code or ""
    return once.keep(DONE_SLOT, {"safety_code": safety_code}, {}, to=url_for("enrol.done"))


def _came_back(form: EnrolForm, errors: dict[str, str], keep_secret: bool) -> Response:
    for name in SECRET_FIELDS:
        form.values[name] = ""
    if not keep_secret:
        form.values["totp_secret"] = ""
    return form.came_back(errors, to=url_for("enrol.enrol"))


@bp.get("/done")
def done() -> str | Response:
    kept = once.kept(DONE_SLOT)
    if kept is None:
        # Another page was opened or it was a while ago: signing in shows a waiting guardian their safety code.
        return redirect(url_for("guardian.sign_in"))
    return render_template("enrol/done.html", safety_code=kept.values.get("safety_code", ""))
