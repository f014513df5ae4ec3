"""The guardian's side: sign in, the queue of cases they hold a key for, and the case page."""

from __future__ import annotations

from datetime import timedelta
from functools import wraps

from flask import Blueprint, abort, current_app, g, redirect, render_template, request, session, url_for
from flask_login import UserMixin, current_user, login_required, login_user, logout_user

from .. import accounts, cases, crypto, keyring, workflow
from ..extensions import limiter, login_manager
from ..models import StaffSession, db
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


def private_key() -> bytes:
    """The signed-in guardian's private key, opened with the half of the session the cookie holds."""
    if "private_key" not in g:
        try:
            g.private_key = keyring.staff_private_key(current_user.row, crypto.b64d(session.get("staff_key", "")))
        except (keyring.SessionExpired, ValueError):
            _end_session()
            abort(redirect(url_for("guardian.sign_in")))
    return g.private_key


def guardian_required(view):
    @wraps(view)
    @login_required
    def wrapped(*args, **kwargs):
        if not current_user.is_guardian:
            abort(403)
        return view(*args, **kwargs)

    return wrapped


def _end_session() -> None:
    if current_user.is_authenticated:
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


@bp.route("/sign-in", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["SIGN_IN_RATE_LIMIT"], methods=["POST"])
@limiter.limit(lambda: current_app.config["SIGN_IN_RATE_LIMIT"], methods=["POST"], key_func=_sign_in_limit_key)
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
    session.clear()  # a new session at sign-in: nothing carried over from before
    row, session_key = keyring.start_staff_session(user, key)
    db.session.commit()
    session["staff_key"] = crypto.b64e(session_key)
    login_user(SignedInStaff(row))
    return redirect(url_for("guardian.queue"))


@bp.post("/sign-out")
def sign_out():
    _end_session()
    return redirect(url_for("guardian.sign_in"))


@bp.get("/")
@guardian_required
def queue():
    rows = cases.cases_for_guardian(current_user.user.id)
    return render_template("guardian/queue.html", cases=rows, labels=workflow.GUARDIAN_LABELS)


def get_case(reference: str):
    """The case and its key for the signed-in guardian: 404 when missing, 403 without a grant."""
    case = cases.case_by_reference(reference)
    if case is None:
        abort(404)
    try:
        return case, keyring.guardian_case_key(case, current_user.user.id, private_key())
    except keyring.NoGrant:
        abort(403)


class StatusForm(DomainForm):
    field_names = ("status", "version")


class MessageForm(DomainForm):
    field_names = ("body",)


def _render_case(case, case_key, status_form=None, message_form=None, status: int = 200):
    view = cases.guardian_view(case, case_key)
    return (
        render_template(
            "guardian/case.html",
            case=view,
            labels=workflow.GUARDIAN_LABELS,
            status_form=status_form or StatusForm(),
            message_form=message_form or MessageForm(),
        ),
        status,
    )


@bp.get("/cases/<reference>")
@guardian_required
def case_page(reference: str):
    return _render_case(*get_case(reference))


@bp.post("/cases/<reference>/status")
@guardian_required
def update_status(reference: str):
    case, case_key = get_case(reference)
    form = StatusForm()
    try:
        version = int(form.values["version"]) if form.values["version"].isdigit() else None
        cases.change_status(case, form.values["status"], expected_version=version)
    except cases.InvalidTransition as exc:
        form.fail({"status": str(exc)})
        return _render_case(case, case_key, status_form=form, status=400)
    except cases.CaseChanged:
        db.session.refresh(case)
        form.fail({"status": "This case changed while you were working on it. Check its status below and try again."})
        return _render_case(case, case_key, status_form=form, status=409)
    return redirect(url_for("guardian.case_page", reference=reference))


@bp.post("/cases/<reference>/messages")
@guardian_required
def send_message(reference: str):
    case, case_key = get_case(reference)
    form = MessageForm()
    try:
        cases.post_message(case, case_key, "guardian", form.values["body"], guardian=current_user.user)
    except cases.InvalidInput as exc:
        form.fail(exc.errors)
        return _render_case(case, case_key, message_form=form, status=400)
    except cases.CaseChanged:
        db.session.refresh(case)
        form.fail({"body": "This case changed while you were writing. Your message is below; send it again."})
        return _render_case(case, case_key, message_form=form, status=409)
    return redirect(url_for("guardian.case_page", reference=reference) + "#messages")
