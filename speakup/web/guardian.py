"""The guardian's side: sign in, the queue of cases they hold a key for, and the case page."""

from __future__ import annotations

from datetime import timedelta
from functools import wraps

from flask import Blueprint, abort, current_app, g, redirect, render_template, request, session, url_for
from flask_login import UserMixin, current_user, login_required, login_user, logout_user

from .. import accounts, audit, cases, crypto, keyring, roster, workflow
from ..categories import lists_for
from ..errors import LIMIT_STORE_DOWN_SIGN_IN, limit_store_down, limit_store_down_form
from ..extensions import LimitStoreDown, limiter, login_manager
from ..models import StaffSession, db, utcnow
from ..queue import ASSIGNED, DUE, BadFilter, QueueFilters, guardian_queue
from . import devices
from .forms import DomainForm

bp = Blueprint("guardian", __name__, url_prefix="/guardian")

SIGN_IN_FAILED = "The email address, password or security code is not right"


class SignedInStaff(UserMixin):
    """The Flask-Login user: one server-side staff session, so signing out ends it everywhere."""

    def __init__(self, row: StaffSession):
        self.row = row
        self.user = row.user

    def get_id(self) -> str:
        return self.row.id

    @property
    def is_guardian(self) -> bool:
        return self.user.role == "guardian"


@login_manager.user_loader
def _load_staff(session_id: str) -> SignedInStaff | None:
    config = current_app.config
    try:
        row = keyring.load_staff_session(
            session_id,
            idle=timedelta(minutes=config["STAFF_IDLE_MINUTES"]),
            absolute=timedelta(hours=config["STAFF_ABSOLUTE_HOURS"]),
        )
    except keyring.SessionExpired:
        return None
    return SignedInStaff(row)


login_manager.login_view = "guardian.sign_in"
login_manager.login_message = "Sign in to continue"
# No "strong" protection: it hashes the client address, which this service never uses.
login_manager.session_protection = None


def staff_keys() -> keyring.AccountKeys:
    """The signed-in person's private keys, opened with the half of the session the cookie holds."""
    if "staff_keys" not in g:
        try:
            g.staff_keys = keyring.staff_keys(current_user.row, crypto.b64d(session.get("staff_key", "")))
        except (keyring.SessionExpired, ValueError):
            _end_session()
            abort(redirect(url_for("guardian.sign_in")))
    return g.staff_keys


def private_key() -> bytes:
    """The signed-in guardian's HPKE private key: it opens the case keys wrapped for them."""
    return staff_keys().private_key


def signed_in_guardian_required(view):
    """Any signed-in guardian, approved or not: the queue (which tells a pending guardian they are waiting) and
    the Team page only."""

    @wraps(view)
    @login_required
    def wrapped(*args, **kwargs):
        if not current_user.is_guardian:
            abort(403)
        return view(*args, **kwargs)

    return wrapped


def guardian_required(view):
    """A guardian on the verified roster (speakup/roster.py). Anyone else, a guardian waiting for approval or one
    whose approval no longer verifies included, gets 403, whatever grants they hold."""

    @wraps(view)
    @login_required
    def wrapped(*args, **kwargs):
        if not current_user.is_guardian or roster.current_roster().member(current_user.user.id) is None:
            abort(403)
        return view(*args, **kwargs)

    return wrapped


def _end_session() -> None:
    if current_user.is_authenticated:
        audit.record(audit.SIGN_OUT, current_user.user.role, current_user.user.id)
        keyring.end_staff_session(current_user.row.id)
    logout_user()
    session.clear()


class SignInForm(DomainForm):
    field_names = ("email", "password", "security_code")


def _sign_in_limit_key() -> str:
    # Per account as well as per client, so one address cannot try many accounts and many
    # addresses cannot hammer one account.
    email = (request.form.get("email") or "").strip().lower()
    return crypto.keyed_hash(current_app.config["TOKEN_PEPPER_BYTES"], email, "sign-in-account")


def _sign_in_failed(response) -> bool:
    # Only failures count: signing in correctly, however often, never uses up anyone's budget.
    return response.status_code == 401


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
    form = SignInForm()
    if request.method == "GET":
        return render_template("guardian/sign_in.html", form=form, require_mfa=current_app.config["REQUIRE_MFA"])
    try:
        user, key = accounts.sign_in(form.values["email"], form.values["password"], form.values["security_code"])
    except keyring.InvalidCredentials:
        form.fail({"email": SIGN_IN_FAILED})
        form.values["password"] = form.values["security_code"] = ""
        return render_template("guardian/sign_in.html", form=form, require_mfa=current_app.config["REQUIRE_MFA"]), 401
    if current_user.is_authenticated:
        keyring.end_staff_session(current_user.row.id)  # signing in again replaces the session, never adds one
    session.clear()  # a new session at sign-in: nothing carried over from before
    row, session_key = keyring.start_staff_session(user, key)
    db.session.commit()
    session["staff_key"] = crypto.b64e(session_key)
    login_user(SignedInStaff(row))
    response = redirect(url_for("guardian.queue" if user.role == "guardian" else "admin.accounts"))
    devices.remember(response, user.email)
    return response


@bp.errorhandler(LimitStoreDown)
def _sign_in_unchecked(error: LimitStoreDown):
    """Sign-in fails closed while the rate-limit store is down (speakup/extensions.py): the form comes
    back with the email address kept, never the password or security code."""
    if request.endpoint != "guardian.sign_in":
        return limit_store_down(error)
    return limit_store_down_form(
        error,
        "guardian/sign_in.html",
        SignInForm(),
        LIMIT_STORE_DOWN_SIGN_IN,
        ("password", "security_code"),
        require_mfa=current_app.config["REQUIRE_MFA"],
    )


@bp.post("/sign-out")
def sign_out():
    _end_session()
    return redirect(url_for("guardian.sign_in"))


@bp.get("/")
@signed_in_guardian_required
def queue():
    me = current_user.user
    if roster.current_roster().member(me.id) is None:
        # Waiting for approval (or an approval that no longer verifies): no case is listed or opened.
        return render_template("guardian/pending.html", safety_code=roster.safety_code_of(me))
    return _queue_page(request.args.to_dict())


NO_SUCH_CASE = "No case you can open has that reference. Check it with the person, or look for it in the list below"


@bp.get("/find")
@guardian_required
def find_case():
    """Straight to a case from its reference (someone phones with it): spaces, lower case and a missing "SU-"
    are forgiven. A reference the guardian cannot open gets the same answer as one that does not exist."""
    typed = request.args.get("reference", "")
    reference = cases.reference_openable_by(typed, current_user.user.id)
    if reference is None:
        problem = NO_SUCH_CASE if typed.strip() else "Enter a case reference"
        return _queue_page({}, find_value=typed[:40], find_error=problem)
    return redirect(url_for("guardian.case_page", reference=reference))


def _queue_page(args: dict[str, str], find_value: str = "", find_error: str = ""):
    today = workflow.london_today(utcnow())
    themes = lists_for(today).themes
    try:
        filters = QueueFilters.from_args(args, themes)
    except BadFilter:
        abort(400)
    page = guardian_queue(current_user.user.id, filters, today, current_app.config["REMINDER_DAYS"])
    return render_template(
        "guardian/queue.html",
        roster_changes=accounts.recent_roster_changes(),
        page=page,
        filters=filters,
        labels=workflow.GUARDIAN_LABELS,
        deadline_labels=workflow.DEADLINE_LABELS,
        themes=themes,
        assigned_choices=ASSIGNED,
        due_choices=DUE,
        find_value=find_value,
        find_error=find_error,
    ), (404 if find_error else 200)


class PasswordForm(DomainForm):
    field_names = ("current_password", "new_password")


def _password_limit_key() -> str:
    return "change-password:" + str(current_user.user.id) if current_user.is_authenticated else "change-password:-"


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
    form = PasswordForm()
    if request.method == "GET":
        return render_template("guardian/password.html", form=form, done=False)
    try:
        accounts.change_password(
            current_user.user, form.values["current_password"], form.values["new_password"], current_user.row.id
        )
    except accounts.AccountError as exc:
        g.wrong_current_password = exc.field == "current_password"
        form.fail({exc.field or "new_password": exc.message})
        form.values = dict.fromkeys(form.values, "")  # passwords are never sent back
        return render_template("guardian/password.html", form=form, done=False), 400
    form.values = dict.fromkeys(form.values, "")  # passwords are never sent back
    return render_template("guardian/password.html", form=form, done=True)
