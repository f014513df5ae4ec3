"""Administrators manage staff accounts. They never see a concern: they hold no key to one."""

from __future__ import annotations

import secrets
from functools import wraps

from flask import Blueprint, abort, current_app, render_template, request
from flask_login import current_user, login_required

from .. import accounts
from ..inputs import parse_int
from ..models import User, db
from .forms import DomainForm

bp = Blueprint("admin", __name__, url_prefix="/admin")


def admin_required(view):
    @wraps(view)
    @login_required
    def wrapped(*args, **kwargs):
        if current_user.user.role != "admin":
            abort(403)
        return view(*args, **kwargs)

    return wrapped


def _initial_password() -> str:
    # Six random words' worth of entropy in a form that can be read out or typed: the person
    # changes it after signing in.
    return "-".join(secrets.token_urlsafe(6) for _ in range(4))


ROLE_LABELS = {"guardian": "Guardian", "admin": "Administrator"}


class InviteForm(DomainForm):
    field_names = ("email", "name", "role")


@bp.get("/", endpoint="accounts")
@admin_required
def accounts_page():
    return render_template("admin/accounts.html", users=accounts.staff_accounts())


def _render_new_credentials(account: accounts.NewAccount, password: str, heading: str, reset: bool):
    return render_template(
        "admin/credentials.html",
        account=account,
        password=password,
        totp_uri=accounts.totp_uri_for(account),
        heading=heading,
        reset=reset,
    )


@bp.route("/invite", methods=["GET", "POST"])
@admin_required
def invite():
    form = InviteForm()
    if request.method == "GET":
        return render_template("admin/invite.html", form=form, roles=ROLE_LABELS)
    password = _initial_password()
    values = form.values
    try:
        if values["role"] not in accounts.ROLES:
            raise accounts.AccountError("Choose guardian or administrator")
        account = accounts.create_user(
            values["email"], values["name"], values["role"], password, "admin", current_user.user.id
        )
    except accounts.AccountError as exc:
        message = str(exc)
        field = "role" if "guardian or" in message else "name" if "name" in message.lower() else "email"
        form.fail({field: message[:1].upper() + message[1:]})
        return render_template("admin/invite.html", form=form, roles=ROLE_LABELS), 400
    return _render_new_credentials(account, password, f"Account created for {account.user.name}", reset=False)


def _user_or_404(user_id: int) -> User:
    user = db.session.get(User, user_id) if parse_int(user_id) is not None else None
    if user is None:
        abort(404)
    return user


@bp.post("/users/<int:user_id>/disable")
@admin_required
def disable(user_id: int):
    return _set_active(user_id, False)


@bp.post("/users/<int:user_id>/enable")
@admin_required
def enable(user_id: int):
    return _set_active(user_id, True)


def _set_active(user_id: int, active: bool):
    user = _user_or_404(user_id)
    try:
        accounts.set_active(user, active, current_user.user)
    except accounts.AccountError as exc:
        return render_template("admin/accounts.html", users=accounts.staff_accounts(), error=str(exc)), 400
    return render_template(
        "admin/accounts.html",
        users=accounts.staff_accounts(),
        notice=f"{user.name}'s account is now {'enabled' if active else 'disabled'}.",
    )


@bp.route("/users/<int:user_id>/reset-password", methods=["GET", "POST"])
@admin_required
def reset_password(user_id: int):
    user = _user_or_404(user_id)
    if request.method == "GET":
        return render_template("admin/reset.html", user=user, require_mfa=current_app.config["REQUIRE_MFA"])
    password = _initial_password()
    account = accounts.reset_password(user, password, current_user.user)
    return _render_new_credentials(account, password, f"New password for {user.name}", reset=True)
