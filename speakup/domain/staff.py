"""Staff accounts: adding them, signing in, resetting and disabling. Wrong details never say which was wrong.

An administrator adds an account and gets a one-time enrolment link (speakup/domain/enrolment.py); the person chooses
their own password and security code there. Nobody but the owner ever sees either. The command line can also
create an account with a password read from standard input, for the person running it (the first guardian).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, Table, func, or_, select, update

from speakup.crypto import password_keys, totp
from speakup.crypto.passwords import password_problem
from speakup.domain import enrolment
from speakup.keys import account_identity, account_keys, approvals, roster, roster_log, sessions
from speakup.keys.account_keys import InvalidCredentials as InvalidCredentials  # raised to the sign-in page
from speakup.keys.account_keys import password_params
from speakup.ops import audit, notify
from speakup.platform import clock, transactions
from speakup.platform.config import settings
from speakup.platform.inputs import parse_int
from speakup.platform.models import CaseGrant, GrantRecipient, Role, StaffSession, User, db
from speakup.platform.transactions import one_place_in_the_log
from speakup.platform.translation import N_
from speakup.platform.translation import gettext as _

logger = logging.getLogger(__name__)

# Plain strings, not members: click.Choice shows an Enum member by its name.
ROLES = tuple(role.value for role in Role)
# One address: a local part, one "@", a dotted domain; no spaces, commas or angle brackets, so an
# email to a guardian can never be sent to a second, smuggled-in address.
# The domain's labels are never empty, so "gita@trust.example." cannot pass for gita@trust.example on the Team page.
EMAIL = re.compile(r"[^@\s,;<>\"]+@[^@\s,;<>\".]+(?:\.[^@\s,;<>\".]+)+")


class AccountError(Exception):
    """An account cannot be created or changed as asked; ``message`` says why and ``field`` which field."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field


def find_user(email: str) -> User | None:
    return db.session.scalar(select(User).where(func.lower(User.email) == email.strip().lower()))


@dataclass(frozen=True)
class NewAccount:
    user: User
    totp_secret: bytes | None
    safety_code: str | None  # of the keys made in this process, for approving them with the organisation key


def _check_new_account(email: str, name: str, role: str) -> None:
    if role not in ROLES:
        raise AccountError(_("Choose guardian or administrator"), "role")
    if not EMAIL.fullmatch(email) or len(email) > 254:
        raise AccountError(_("Enter a valid email address"), "email")
    if not name.strip():
        raise AccountError(_("Enter a name"), "name")
    if len(name.strip()) > 200:
        raise AccountError(_("Enter a name of 200 characters or fewer"), "name")
    if find_user(email) is not None:
        raise AccountError(_("An account with that email address already exists"), "email")


@one_place_in_the_log
def create_user(
    email: str, name: str, role: str, password: str, actor_type: str = audit.Actor.SYSTEM, actor_id: int | None = None
) -> NewAccount:
    """An account whose password the caller already has (the command line, for the person running it). A
    guardian made this way is pending until approved (speakup/keys/roster.py)."""
    email = email.strip()
    _check_new_account(email, name, role)
    problem = password_problem(password, email=email, name=name)
    if problem:
        raise AccountError(enrolment.password_message(problem), "password")
    totp_secret = totp.new_totp_secret() if settings().require_mfa else None
    user = User(email=email, name=name.strip(), role=role)
    db.session.add(user)
    db.session.flush()  # its id first: the keys are sealed bound to it
    keys = account_keys.new_account_keys()
    account_keys.seal_account(user, password, password_params(), keys, totp_secret)
    audit.record(audit.Action.ACCOUNT_CREATED, actor_type, actor_id, email=email, role=role)
    _note_guardian_change(roster_log.ADDED, user)
    return NewAccount(user, totp_secret, roster.safety_code_held(keys.private_key, keys.signing_key))


@dataclass(frozen=True)
class EnrolmentLink:
    user: User
    token: str  # shown once to the administrator inside the link, never stored

    @property
    def url(self) -> str:
        return enrolment.link_url(self.token)


@one_place_in_the_log
def invite_user(email: str, name: str, role: str, admin: User) -> EnrolmentLink:
    """An administrator adds an account: no password, no keys, only a one-time enrolment link for its owner."""
    email = email.strip()
    _check_new_account(email, name, role)
    user = User(email=email, name=name.strip(), role=role)
    db.session.add(user)
    db.session.flush()
    account_identity.stamp(user)  # who it is, vouched for: its link enrols only this row as it is now
    audit.record(audit.Action.ACCOUNT_CREATED, audit.Actor.ADMIN, admin.id, email=email, role=role)
    _note_guardian_change(roster_log.ADDED, user)
    token = enrolment.issue_link(user, admin)
    if role == Role.GUARDIAN:
        transactions.after_commit(tell_guardians_of_roster_change)
    return EnrolmentLink(user, token)


def totp_uri_for(account: NewAccount) -> str | None:
    if account.totp_secret is None:
        return None
    return totp.totp_uri(account.totp_secret, account.user.email, "Speak Up")


def sign_in(email: str, password: str, security_code: str) -> tuple[User, account_keys.AccountKeys]:
    """Checks email, password and (when required) the security code. Returns the private keys."""
    user = find_user(email)
    if user is None or not user.is_active or not user.is_enrolled:
        # Spend the same Argon2id effort so the answer's timing does not reveal whether the email exists.
        account_keys.derive_password_key(password, password_keys.new_salt(), password_params())
        # What was typed is never recorded: a password typed into the email field must not be kept.
        audit.record(audit.Action.SIGN_IN_FAILED, audit.Actor.SYSTEM, user.id if user else None)
        raise InvalidCredentials()
    try:
        unlocked = account_keys.unlock_account(user, password)
        if settings().require_mfa:
            _check_security_code(user, unlocked.totp_secret, security_code)
    except InvalidCredentials:
        db.session.rollback()  # a signing key made while unlocking is kept only for a complete sign-in
        audit.record(audit.Action.SIGN_IN_FAILED, user.role, user.id)
        raise
    if not account_keys.holds_stored_keys(user, unlocked.keys):
        _keys_changed(user)
    audit.record(audit.Action.SIGN_IN_OK, user.role, user.id)
    purge_expired_sessions()  # each sign-in also sweeps away sessions nobody can use any more
    return user, unlocked.keys


class KeysChanged(Exception):
    """The public keys stored for the account are not the halves of the private keys its password opens: someone
    changed them in the database. The person is not signed in and is told to contact their FTSU lead."""


def _keys_changed(user: User) -> None:
    """A roster alarm: the account leaves the roster (an unsigned removal in the log) until reset and approved."""
    db.session.rollback()
    _record_keys_changed(user)
    raise KeysChanged()


@one_place_in_the_log
def _record_keys_changed(user: User) -> None:
    reason = "the public keys stored for the account are not the ones its password opens"
    logger.error("Roster alarm: account %s: %s", user.id, reason)
    audit.record(audit.Action.ROSTER_ALARM, audit.Actor.SYSTEM, guardian_id=user.id, reason=reason)
    _note_guardian_change(roster_log.KEYS_MISMATCH, user)


def _note_guardian_change(kind: str, user: User) -> None:
    if user.role == Role.GUARDIAN:
        roster_log.note(kind, user)


def purge_expired_sessions() -> tuple[int, int]:
    """Deletes expired staff sessions and idle reporter sessions, with the key material they hold. Run at every
    staff sign-in and by `flask speakup sessions purge` from a timer; the caller commits. Returns the counts."""
    configured = settings()
    staff = sessions.purge_expired_staff_sessions(
        timedelta(minutes=configured.staff_idle_minutes), timedelta(hours=configured.staff_absolute_hours)
    )
    reporters = sessions.purge_idle_reporter_sessions(timedelta(minutes=configured.reporter_idle_minutes))
    return staff, reporters


def _check_security_code(user: User, totp_secret: bytes | None, code: str) -> None:
    """A code is good for one sign-in. The step is claimed with one conditional UPDATE, not read and then written:
    sign-ins sharing a code all wait for Argon2id with the same stale row in hand, and only the database's row lock
    can tell which came first."""
    if totp_secret is None:
        raise InvalidCredentials()
    step = totp.totp_step_matching(totp_secret, code, clock.timestamp())
    if step is None:
        raise InvalidCredentials()
    claimed = db.session.execute(
        update(User)
        .where(User.id == user.id, or_(User.totp_last_step.is_(None), User.totp_last_step < step))
        .values(totp_last_step=step)
        .execution_options(synchronize_session=False)
    )
    if cast("CursorResult[Any]", claimed).rowcount != 1:  # an UPDATE's result is a CursorResult
        raise InvalidCredentials()


def change_password(user: User, current_password: str, new_password: str, keep_session_id: str | None = None) -> None:
    """Re-seals the same private keys under the new password: every grant and the approval keep working. Every
    other session of the account ends (someone who knew the old password may be signed in elsewhere)."""
    try:
        unlocked = account_keys.unlock_account(user, current_password)
    except InvalidCredentials:
        raise AccountError(_("Your current password is not right"), "current_password") from None
    if not account_keys.holds_stored_keys(user, unlocked.keys):
        _keys_changed(user)  # sealing under the new password would write the person's own keys back over the swap
    problem = password_problem(new_password, email=user.email, name=user.name)
    if problem:
        raise AccountError(enrolment.password_message(problem), "new_password")
    account_keys.seal_account(user, new_password, password_params(), unlocked.keys, unlocked.totp_secret)
    ended = sessions.end_other_staff_sessions(user.id, keep_session_id)
    audit.record(audit.Action.PASSWORD_CHANGED, user.role, user.id, count=ended)


@one_place_in_the_log
def reset_account(user: User, admin: User) -> EnrolmentLink:
    """An administrator's reset of a forgotten password: a new enrolment link, never a password.

    Nobody can open the old private keys without the old password, so they are deleted now, with the case
    grants they opened and every session of the account; the person makes new keys through the link and, as a
    guardian, is pending again until another guardian approves them, and their cases are shared again or
    recovered."""
    if user.id == admin.id:
        raise AccountError(_("You cannot reset your own account: change your password instead"))
    account_keys.clear_account_keys(user)
    _note_guardian_change(roster_log.RESET, user)
    grants = db.session.execute(
        cast(Table, CaseGrant.__table__)
        .delete()
        .where(CaseGrant.recipient == GrantRecipient.GUARDIAN, CaseGrant.user_id == user.id)
    )
    removed = cast("CursorResult[Any]", grants).rowcount  # a DELETE's result is a CursorResult
    db.session.execute(cast(Table, StaffSession.__table__).delete().where(StaffSession.user_id == user.id))
    audit.record(audit.Action.PASSWORD_RESET, audit.Actor.ADMIN, admin.id, email=user.email, count=removed)
    token = enrolment.issue_link(user, admin)
    if user.role == Role.GUARDIAN:
        transactions.after_commit(tell_guardians_of_roster_change)
    return EnrolmentLink(user, token)


@one_place_in_the_log
def set_active(user: User, active: bool, admin: User) -> None:
    """Disabling ends the person's sessions at once and stops new cases reaching them; enabling a guardian again
    leaves them waiting for approval, as a newcomer."""
    if user.id == admin.id and not active:
        raise AccountError(_("You cannot disable your own account"))
    if active and user.is_active:
        # Said, not done silently (a page open from before, review 25). Disabling always writes its entry: a column
        # a database writer already flipped decides nothing.
        raise AccountError(_("%(name)s's account is already enabled: nothing was changed", name=user.name))
    with account_identity.changed_by_the_service(user, "change of active flag"):
        user.is_active = active
    if not active:
        db.session.execute(cast(Table, StaffSession.__table__).delete().where(StaffSession.user_id == user.id))
    # Enabling a guardian again makes them pending: back on the roster only by approval, with the safety code.
    _note_guardian_change(roster_log.ENABLED if active else roster_log.DISABLE, user)
    action = audit.Action.ACCOUNT_ENABLED if active else audit.Action.ACCOUNT_DISABLED
    audit.record(action, audit.Actor.ADMIN, admin.id, email=user.email)
    if user.role == Role.GUARDIAN:
        transactions.after_commit(tell_guardians_of_roster_change)


@one_place_in_the_log
def approve_guardian(user: User, approver: User, approver_keys: account_keys.AccountKeys, typed_code: str) -> None:
    """An approved guardian puts a pending one on the roster by the safety code read to them; every guardian is
    told. ``approvals.ApprovalRefused`` (by its field, nothing changed) for a wrong code or an approver who may not."""
    approvals.approve_by_guardian(user, approver, approver_keys, typed_code)
    transactions.after_commit(tell_guardians_of_roster_change)


def tell_guardians_of_roster_change() -> None:
    """Email every approved guardian (when mail is on) that the guardians changed. Once the change is committed
    (``transactions.after_commit``, whose writes are committed apart): the roster that says who is approved is verified
    only from a committed log (verifying writes the anchor file, which must never name a head that was not kept)."""
    notify.roster_changed(roster.current_roster().guardians())


def staff_accounts() -> list[User]:
    return list(db.session.scalars(select(User).order_by(User.role, User.name)))


@dataclass(frozen=True)
class StaffState:
    user: User
    state: str  # "approved", "pending", "active" (an administrator) or "disabled"
    enrolled: bool  # False while the person has not used their enrolment link
    approvals: roster.Approvals | None = None  # a pending guardian's approvals so far ("1 of 2 approvals")


def staff_states() -> list[StaffState]:
    """Every staff account with the state the Team and accounts pages show (speakup/keys/roster.py decides)."""
    verified = roster.current_roster()
    return [
        StaffState(user, roster.state_of(user, verified), user.is_enrolled, verified.approvals_of(user.id))
        for user in staff_accounts()
    ]


# Whole sentences, the name put in (word order differs between languages).
ROSTER_CHANGES = {
    roster_log.ADDED: N_("%(name)s was added"),
    roster_log.APPROVE: N_("%(name)s received an approval"),
    roster_log.RESET: N_("%(name)s was reset and must be approved again"),
    roster_log.DISABLE: N_("%(name)s was disabled"),
    roster_log.ENABLED: N_("%(name)s was enabled again and must be approved again"),
    roster_log.KEYS_MISMATCH: N_("%(name)s was left out: their keys were changed"),
}
APPROVED = N_("%(name)s was approved")


@dataclass(frozen=True)
class RosterChange:
    at: datetime
    name: str
    message: str  # one of ROSTER_CHANGES or APPROVED, in English

    @property
    def sentence(self) -> str:
        """The whole sentence, in the page's language."""
        return str(_(self.message, name=self.name))


def recent_roster_changes(days: int = 14, limit: int = 10) -> list[RosterChange]:
    """Guardians added, approved, reset, disabled, enabled or left out lately, newest first: the notice every
    guardian sees on the queue, so an account nobody expected does not go unnoticed. Drawn from the roster log,
    which holds guardian changes only, so nothing else (an administrator's own accounts, say) can push them out, and
    dated by each statement's own time, which is in the hash chain (the row's ``created_at`` is only a copy)."""
    since = clock.utcnow() - timedelta(days=days)
    entries = roster_log.latest(tuple(ROSTER_CHANGES), limit)
    dated = [(roster_log.recorded_at(entry), entry) for entry in entries]
    recent = [(at, entry) for at, entry in dated if at is not None and at >= since]
    ids = {entry.user_id for _, entry in recent}
    names: dict[int | None, str] = dict(db.session.execute(select(User.id, User.name).where(User.id.in_(ids))).all())
    verified = roster.current_roster()
    changes, approved_shown = [], set()
    for at, entry in recent:  # newest first: a member's newest approval is the one that made them one
        what = ROSTER_CHANGES[entry.kind]
        user_id = entry.user_id
        if (
            entry.kind == roster_log.APPROVE
            and user_id is not None
            and verified.member(user_id)
            and user_id not in approved_shown
        ):
            what = APPROVED
            approved_shown.add(entry.user_id)
        changes.append(RosterChange(at, names.get(entry.user_id) or _("A former guardian"), what))
    return changes


def get_user(user_id: object) -> User | None:
    """The account with this id, or None for any id (however odd) that names none."""
    number = parse_int(user_id)
    return db.session.get(User, number) if number is not None else None
