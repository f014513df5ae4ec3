"""Signing in to the staff side (guardians and administrators), signing out, and changing a password."""

from __future__ import annotations

from flask import (
    current_app,
    flash,
    g,
    get_flashed_messages,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_login import current_user, login_required, login_user
from werkzeug.wrappers import Response

from speakup.domain import browser_sessions, staff, time_outs
from speakup.platform.extensions import LimitStoreDown, limiter
from speakup.platform.models import Role
from speakup.platform.translation import lazy_gettext as _l
from speakup.web import devices, once
from speakup.web.errors import (
    LIMIT_STORE_DOWN_RETRY_AFTER,
    LIMIT_STORE_DOWN_SIGN_IN,
    limit_store_down,
    log_limit_store_down,
)
from speakup.web.forgetting import forget_this_browser
from speakup.web.forms import DomainForm
from speakup.web.guardian import bp
from speakup.web.guardian.auth import SignedInStaff, _end_session
from speakup.web.guardian.time_out import give_back

# One answer for every failure, so it never tells which part was wrong (or whether the account exists). It names a
# security code only when one is asked for: without MFA the page has no such field to correct.
SIGN_IN_FAILED = _l("Enter a correct email address, password and security code")
SIGN_IN_FAILED_NO_MFA = _l("Enter a correct email address and password")
# The password was right but the stored public keys are not its private keys' halves (a roster alarm): said plainly,
# since only the account's owner could have typed that password.
KEYS_CHANGED = _l(
    "You cannot sign in: the keys stored for your account have been changed since you set it up. "
    "Contact your Freedom to Speak Up lead, who will reset your account"
)


def sign_in_failed_message(require_mfa: bool) -> str:
    return str(SIGN_IN_FAILED if require_mfa else SIGN_IN_FAILED_NO_MFA)


class SignInForm(DomainForm):
    field_names = ("email", "password", "security_code")

    def came_back(self, errors: dict[str, str], to: str | None = None) -> Response:
        """Back to the sign-in page with the email address kept, never the password or the security code."""
        self.values["password"] = self.values["security_code"] = ""
        return super().came_back(errors, to=to or url_for("guardian.sign_in"))


def _sign_in_limit_key() -> str:
    # Per account as well as per client, so one address cannot try many accounts and many
    # addresses cannot hammer one account.
    email = (request.form.get("email") or "").strip().lower()
    return browser_sessions.pseudonym(email, "sign-in-account")


def _sign_in_failed(_response: Response) -> bool:
    # Only failures count: signing in correctly, however often, never uses up anyone's budget. Every answer is a
    # redirect, so the view says which it was.
    return bool(g.get("sign_in_failed"))


def _sign_in_limit(**options):
    return limiter.limit(
        lambda: current_app.config["SIGN_IN_RATE_LIMIT"], methods=["POST"], deduct_when=_sign_in_failed, **options
    )


@bp.route("/sign-in", methods=["GET", "POST"])
@_sign_in_limit()
# Per account, except from a browser that has signed in to that account before (devices.py), which has its own.
@_sign_in_limit(key_func=_sign_in_limit_key, exempt_when=devices.is_known_for_attempted_account)
@_sign_in_limit(key_func=devices.device_limit_key, exempt_when=lambda: not devices.is_known_for_attempted_account())
def sign_in():
    if request.method == "GET":
        return render_template(
            "guardian/sign_in.html", form=SignInForm.shown(), require_mfa=current_app.config["REQUIRE_MFA"]
        )
    form = SignInForm()
    try:
        user, key = staff.sign_in(form.values["email"], form.values["password"], form.values["security_code"])
    except staff.KeysChanged:
        return form.came_back({"email": str(KEYS_CHANGED)})  # the right password: not a failure that counts
    except staff.InvalidCredentials:
        g.sign_in_failed = True
        return form.came_back({"email": sign_in_failed_message(current_app.config["REQUIRE_MFA"])})
    if current_user.is_authenticated:
        browser_sessions.end_staff_session(current_user.row.id)  # signing in again replaces the session, never adds one
    back_to = once.take_return(user.id)  # the page this person was on when their last session timed out
    unsent = time_outs.take_unsent(user.id, key)  # and what they had typed there, sealed to their own key
    session.clear()  # a new session at sign-in: nothing carried over from before
    row, session["staff_key"] = browser_sessions.start_staff_session(user, key)
    login_user(SignedInStaff(row))
    if unsent is not None:
        give_back(unsent)
        back_to = unsent.path
    home = url_for("guardian.queue" if user.role == Role.GUARDIAN else "admin.accounts")
    response = redirect(back_to or home, 303)
    devices.remember(response, user.email)
    return response


@bp.errorhandler(LimitStoreDown)
def _sign_in_unchecked(error: LimitStoreDown):
    """Sign-in fails closed while the rate-limit store is down (speakup/platform/extensions.py): back to the
    sign-in page with "try again shortly" and the email address kept, never the password or security code."""
    if request.endpoint != "guardian.sign_in" or request.method != "POST":
        return limit_store_down(error)
    log_limit_store_down(error)
    response = SignInForm().came_back({"service": LIMIT_STORE_DOWN_SIGN_IN})
    response.headers["Retry-After"] = LIMIT_STORE_DOWN_RETRY_AFTER
    return response


@bp.post("/sign-out")
def sign_out():
    _end_session()
    return forget_this_browser(redirect(url_for("guardian.sign_in"), 303))


class PasswordForm(DomainForm):
    field_names = ("current_password", "new_password")

    def came_back(self, errors: dict[str, str], to: str | None = None) -> Response:
        """Back to the page with the messages only: no password is ever kept, not even sealed."""
        self.values = dict.fromkeys(self.values, "")
        return super().came_back(errors, to=to or url_for("guardian.change_password"))


def _password_limit_key() -> str:
    return "change-password:" + str(current_user.user.id) if current_user.is_authenticated else "change-password:-"


CHANGED = "password-changed"  # the flash that tells the page, after the redirect, it was done


@bp.route("/account/password", methods=["GET", "POST"])
@login_required
# Each try costs an Argon2id derivation and tells whether a guess at the current password was right: a stolen
# session must not become an unlimited password oracle. Only wrong current passwords count.
@limiter.limit(
    lambda: current_app.config["SIGN_IN_RATE_LIMIT"],
    methods=["POST"],
    key_func=_password_limit_key,
    deduct_when=lambda _response: bool(g.get("wrong_current_password")),
)
def change_password():
    """For guardians and administrators alike. The private key is re-sealed, so no case is lost."""
    if request.method == "GET":
        done = bool(get_flashed_messages(category_filter=[CHANGED]))
        return render_template("guardian/password.html", form=PasswordForm.shown(), done=done)
    form = PasswordForm()
    try:
        staff.change_password(
            current_user.user, form.values["current_password"], form.values["new_password"], current_user.row.id
        )
    except staff.KeysChanged:
        return form.came_back({"current_password": str(KEYS_CHANGED)})
    except staff.AccountError as exc:
        g.wrong_current_password = exc.field == "current_password"
        return form.came_back({exc.field or "new_password": exc.message})
    flash("done", CHANGED)
    return redirect(url_for("guardian.change_password"), 303)
