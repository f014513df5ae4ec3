"""Administrators manage staff accounts. They never see a concern: they hold no key to one, and never see a
password or a security-code secret either: adding or resetting an account gives them a one-time enrolment link."""

from __future__ import annotations

from functools import wraps

from flask import Blueprint, abort, render_template, request
from flask_login import current_user, login_required

from speakup.domain import staff
from speakup.web.forms import DomainForm

bp = Blueprint("admin", __name__, url_prefix="/admin")


def admin_required(view):
    @wraps(view)
    @login_required
    def wrapped(*args, **kwargs):
        if current_user.user.role != "admin":
            abort(403)
        return view(*args, **kwargs)

    return wrapped


ROLE_LABELS = {"guardian": "Guardian", "admin": "Administrator"}


class InviteForm(DomainForm):
    field_names = ("email", "name", "role")


def _accounts_page(status: int = 200, **messages: str):
    return render_template("admin/accounts.html", staff=staff.staff_states(), **messages), status


@bp.get("/", endpoint="accounts")
@admin_required
def accounts_page():
    return _accounts_page()


@bp.route("/invite", methods=["GET", "POST"])
@admin_required
def invite():
    form = InviteForm()
    if request.method == "GET":
        return render_template("admin/invite.html", form=form, roles=ROLE_LABELS)
    values = form.values
    try:
        link = staff.invite_user(values["email"], values["name"], values["role"], current_user.user)
    except staff.AccountError as exc:
        form.fail({exc.field or "email": exc.message})
        return render_template("admin/invite.html", form=form, roles=ROLE_LABELS), 400
    return render_template("admin/enrolment_link.html", link=link, reset=False)


def _user_or_404(user_id: int):
    user = staff.get_user(user_id)
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
        staff.set_active(user, active, current_user.user)
    except staff.AccountError as exc:
        return _accounts_page(400, error=exc.message)
    notice = f"{user.name}'s account is now {'enabled' if active else 'disabled'}."
    if active and user.role == "guardian":
        notice += " They can sign in, and read concerns again once guardians approve them on the Team page."
    return _accounts_page(notice=notice)


@bp.route("/users/<int:user_id>/reset-password", methods=["GET", "POST"])
@admin_required
def reset_password(user_id: int):
    user = _user_or_404(user_id)
    if request.method == "GET":
        return render_template("admin/reset.html", user=user)
    try:
        link = staff.reset_account(user, current_user.user)
    except staff.AccountError as exc:
        return _accounts_page(400, error=exc.message)
    return render_template("admin/enrolment_link.html", link=link, reset=True)
