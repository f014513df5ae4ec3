"""Who a staff account is, as the service made it: the identity everything that lets a person act as an account is
bound to, and the stamp that vouches for the row (outside review r4, F2 and F3).

A database writer could swap `users.id` between rows, copy one account's sealed credentials onto another's row, set
`role='admin'` or `is_active=true`, and one person became another (the administrator). Now:

- an account's keys and TOTP secret are sealed under labels naming its id, role and address (``labels.account``),
  so they open for no other row, nor for this one once those change; a session's sealed half is bound the same way;
- ``users.identity_stamp``, a keyed hash under the pepper in force of the id, address (lower case), role, active
  flag, the sealed credentials and the name (outside review r8, F1), is made only by the service (at creation,
  enrolment, a password change, a reset, disabling or enabling; migrations 0025 and 0027 for the rows that existed)
  and checked at every sign-in, enrolment and request. Without the pepper nobody can make one, so a row changed in
  the database signs nobody in, with an ERROR line naming the account's id. It is also what lets keys sealed before
  the binding open (``labels.account_private_key`` and its kin), until their owner's next sign-in seals them again,
  bound.

A whole row (and its stamp) put back from an older copy is still the same account as it was: an accepted risk
(docs/threat-model.md, "A database writer").
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, TypeAlias

from sqlalchemy import Row

from speakup.crypto import labels, sealing
from speakup.platform.config import settings
from speakup.platform.models import User

logger = logging.getLogger(__name__)

STAMP_KIND = "account-identity"

# The columns the stamp covers, with the stamp: what a query selects to check rows it does not load as accounts.
STAMPED_COLUMNS = (
    User.id,
    User.email,
    User.role,
    User.is_active,
    User.password_salt,
    User.private_key_ct,
    User.totp_secret_ct,
    User.signing_key_ct,
    User.name,
    User.identity_stamp,
)
StampedRow: TypeAlias = "Row[Any]"


def who(user: User) -> str:
    """What the account's sealed credentials and sessions are bound to."""
    return labels.account(user.id, user.email, user.role)


def _stamped(user: User | StampedRow) -> tuple[sealing.StampField, ...]:
    # Migration 0027 stamps these very fields, in this order: changed here, changed there (as a new migration). The
    # name is the last: it is how a reporter chooses whom to exclude (outside review r8, F1: two names swapped in the
    # database sent a concern to the guardian the reporter had excluded).
    return (
        user.id,
        user.email.lower(),
        user.role,
        bool(user.is_active),
        user.password_salt,
        user.private_key_ct,
        user.totp_secret_ct,
        user.signing_key_ct,
        user.name,
    )


def stamp(user: User) -> None:
    """Vouches for the row as it is now. Only after the service itself made or changed it, or checked it holds."""
    user.identity_stamp = sealing.row_stamp(settings().token_pepper, STAMP_KIND, _stamped(user))


def holds(user: User | StampedRow) -> bool:
    return sealing.stamp_holds(settings().token_pepper, user.identity_stamp, STAMP_KIND, _stamped(user))


def checked(user: User, what: str, outcome: str = "is refused") -> bool:
    """Whether the row is as the service left it; an ERROR line naming the account's id (nothing else) if not."""
    if holds(user):
        return True
    logger.error(
        "Account identity stamp invalid: account %s is not as the service left it (its id, address, role, active flag "
        "or sealed credentials were changed in the database?); its %s %s",
        user.id,
        what,
        outcome,
    )
    return False


@contextmanager
def changed_by_the_service(user: User, what: str) -> Iterator[None]:
    """Around a change the service makes (disabling, enabling, a reset): the row is vouched for afterwards only if it
    was before, so the service never blesses what a database writer did (a role set to admin, say)."""
    held = checked(user, what, "is made, but the account stays unusable (make it again)")
    yield
    if held:
        stamp(user)
    else:
        user.identity_stamp = None


def stamp_for_rotation(user: User, old: bytes, new: bytes) -> bool:
    """At `speakup rotate-pepper`: the row's stamp made again under ``new`` if it holds under ``old``; else none."""
    if sealing.stamp_holds(old, user.identity_stamp, STAMP_KIND, _stamped(user)):
        user.identity_stamp = sealing.row_stamp(new, STAMP_KIND, _stamped(user))
        return True
    user.identity_stamp = None
    return False
