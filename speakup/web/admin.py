"""Administrators manage staff accounts. They never see a concern: they hold no key to one, and never see a
password or a security-code secret either: adding or resetting an account gives them a one-time enrolment link.

Every form here is answered with a redirect (speakup/web/once.py). The enrolment link is never in the answer to
the POST that made it, which the browser keeps and would send again: it is kept sealed for this browser (as a form
that came back is, under a secret only its session cookie holds) and shown once, by the page the redirect leads
to, within ``KEPT_FORM_MINUTES``. Shown, it is forgotten: a Reload, Back or the form sent again shows it to nobody."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, cast

from flask import Blueprint, abort, flash, get_flashed_messages, redirect, render_template, url_for
from flask_login import current_user, login_required
from werkzeug.wrappers import Response

from speakup.domain import staff
from speakup.platform.models import Role, User
from speakup.platform.translation import gettext as _
from speakup.platform.translation import lazy_gettext as _l
from speakup.web import once
from speakup.web.forms import DomainForm

bp = Blueprint("admin", __name__, url_prefix="/admin")


def admin_required(view: Callable[..., Any]) -> Callable[..., Any]:
    @wraps(view)
    @login_required
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if current_user.user.role != Role.ADMIN:
            abort(403)
        return view(*args, **kwargs)

    return wrapped


ROLE_LABELS = {Role.GUARDIAN: _l("Guardian"), Role.ADMIN: _l("Administrator")}

# The slot the enrolment link is kept in for the page after the POST; its values are the account's id, the link's
# token and whether it was a reset. Its name only ever meets once.keep/once.kept.
LINK_SLOT = "EnrolmentLinkShown"

# Flashed after Disable and Enable: the account's id, never its name (Flask's cookie is signed, not secret); the
# accounts page names it from the database.
ENABLED, DISABLED, REFUSED = "account-enabled", "account-disabled", "account-refused"


class InviteForm(DomainForm):
    field_names = ("email", "name", "role")


def _notice(category: str, user_id: str, accounts: list[staff.StaffState]) -> str:
    user = next((row.user for row in accounts if str(row.user.id) == user_id), None)
    if user is None:
        return ""
    if category == DISABLED:
        return _("%(name)s's account is now disabled.", name=user.name)
    if user.role == Role.GUARDIAN:
        return _(
            "%(name)s's account is now enabled. They can sign in, and read concerns again once guardians approve "
            "them on the Team page.",
            name=user.name,
        )
    return _("%(name)s's account is now enabled.", name=user.name)


@bp.get("/", endpoint="accounts")
@admin_required
def accounts_page() -> str:
    accounts = staff.staff_states()
    notice = error = ""
    flashed = get_flashed_messages(with_categories=True, category_filter=[ENABLED, DISABLED, REFUSED])
    for category, message in cast(list[tuple[str, str]], flashed):  # with_categories: (category, message) pairs
        if category == REFUSED:
            error = message  # the domain's rule, which names nobody
        else:
            notice = _notice(category, message, accounts)
    return render_template("admin/accounts.html", staff=accounts, notice=notice, error=error)


@bp.get("/invite")
@admin_required
def invite() -> str:
    return render_template("admin/invite.html", form=InviteForm.shown(), roles=ROLE_LABELS)


@bp.post("/invite")
@admin_required
def create_account() -> Response:
    form = InviteForm()
    values = form.values
    try:
        link = staff.invite_user(values["email"], values["name"], values["role"], current_user.user)
    except staff.AccountError as exc:
        return form.came_back({exc.field or "email": exc.message}, to=url_for("admin.invite"))
    return _show_link(link, reset=False)


def _show_link(link: staff.EnrolmentLink, reset: bool) -> Response:
    """The link kept sealed for this browser, and a redirect to the page that shows it."""
    values = {"user_id": str(link.user.id), "token": link.token, "reset": "1" if reset else ""}
    return once.keep(LINK_SLOT, values, {}, to=url_for("admin.enrolment_link"))


@bp.get("/enrolment-link")
@admin_required
def enrolment_link() -> str:
    kept = once.kept(LINK_SLOT)
    if kept is not None:
        # Shown once: forgotten before the page is, so a Reload or the form sent again finds nothing to show.
        once.forget_kept()
    user = staff.get_user(kept.values.get("user_id")) if kept is not None else None
    if kept is None or user is None:
        # Already shown, the administrator signed out or went to another page, or it was made too long ago.
        return render_template("admin/enrolment_link.html", link=None, reset=False)
    link = staff.EnrolmentLink(user, kept.values["token"])
    return render_template("admin/enrolment_link.html", link=link, reset=bool(kept.values.get("reset")))


def _user_or_404(user_id: int) -> User:
    user = staff.get_user(user_id)
    if user is None:
        abort(404)
    return user


@bp.post("/users/<int:user_id>/disable")
@admin_required
def disable(user_id: int) -> Response:
    return _set_active(user_id, False)


@bp.post("/users/<int:user_id>/enable")
@admin_required
def enable(user_id: int) -> Response:
    return _set_active(user_id, True)


def _set_active(user_id: int, active: bool) -> Response:
    user = _user_or_404(user_id)
    try:
        staff.set_active(user, active, current_user.user)
    except staff.AccountError as exc:
        flash(exc.message, REFUSED)
    else:
        flash(str(user.id), ENABLED if active else DISABLED)
    return redirect(url_for("admin.accounts"), 303)


@bp.get("/users/<int:user_id>/reset-password")
@admin_required
def reset_password(user_id: int) -> str:
    return render_template("admin/reset.html", user=_user_or_404(user_id))


@bp.post("/users/<int:user_id>/reset-password")
@admin_required
def reset(user_id: int) -> Response:
    user = _user_or_404(user_id)
    try:
        link = staff.reset_account(user, current_user.user)
    except staff.AccountError as exc:
        flash(exc.message, REFUSED)
        return redirect(url_for("admin.accounts"), 303)
    return _show_link(link, reset=True)
