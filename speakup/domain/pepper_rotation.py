"""Rotating the server pepper (`speakup rotate-pepper`, docs/deploy.md "Rotating the pepper"), run with the service
stopped: the database made ready for a new pepper, the old one kept as a fallback.

What a person typed or holds was made under the old pepper and cannot be made again under the new one without it
(an access code's lookup id, a stats token's or an enrolment link's keyed hash): those are found under any configured
pepper, and written under the current one from then on. An access code's lookup id is never re-keyed: the roster log
names its code generation. What the server alone names (which cases answered the questions about themselves) is
re-keyed now. An account is sealed again under the new pepper at its next sign-in (keys/account_keys.py); until
then it names the pepper it is under. Every row the old pepper may still open (an account, an enrolment link; the
command stamps the statistics tokens) is stamped under the new pepper with what a fallback accepts of it, so a row
forged or changed afterwards by someone holding only the old pepper opens nothing.
The audit chain switches pepper at the PEPPER_ROTATED row the command writes
under the new pepper (ops/audit_chain.py).
"""

from __future__ import annotations

import json
import secrets
import shlex
from dataclasses import dataclass, field

from sqlalchemy import select

from speakup.crypto import sealing
from speakup.domain import characteristics, enrolment
from speakup.keys import account_identity, account_keys
from speakup.ops import audit
from speakup.platform.config import settings
from speakup.platform.models import User, db

PEPPER_BYTES = 32  # as docs/deploy.md makes the first one: `secrets.token_hex(32)`


class RotationRefused(Exception):
    """The database is not in a state to rotate from; the message says why."""


@dataclass(frozen=True)
class Prepared:
    # The new SPEAKUP_TOKEN_PEPPER and SPEAKUP_TOKEN_PEPPER_FALLBACKS (newest first): shown to nobody, never in a
    # repr, written to the command's file only.
    new_pepper: str = field(repr=False)
    fallbacks: tuple[str, ...] = field(repr=False)
    old_id: str
    new_id: str
    accounts_named: int  # accounts whose pepper was recorded now
    markers: int  # characteristics markers re-keyed
    stamped: int  # accounts and enrolment links the old pepper may still open, stamped under the new one


def new_pepper() -> str:
    return secrets.token_hex(PEPPER_BYTES)


def prepare(pepper: str) -> Prepared:
    """Everything but the audit row, under the old settings: refuses a chain that does not verify (nothing then
    vouches for what is carried over); names each account's pepper where unset; re-keys the markers. The caller
    writes the PEPPER_ROTATED row with ``pepper`` in force (``record``), then commits once."""
    checked = audit.check_chain()
    if checked.broken is not None:
        raise RotationRefused(
            f"The audit chain does not verify (event {checked.broken.event_id}: {checked.broken.reason}); "
            "run `speakup audit verify` and resolve it first"
        )
    configured = settings()
    old, new = configured.token_pepper, pepper.encode()
    if new in configured.token_peppers:
        raise RotationRefused("The new pepper is one already configured")
    old_id = sealing.pepper_id(old)
    unnamed = db.session.scalars(
        select(User).where(User.kdf_pepper_id.is_(None), User.kdf_peppered.is_(True), User.password_salt.is_not(None))
    ).all()
    for user in unnamed:
        user.kdf_pepper_id = old_id
    # What the old pepper may open after the rotation, stamped under the new one (docs/protocol.md): accounts, links.
    fallbacks_now = configured.token_peppers[1:]
    users = db.session.scalars(select(User)).all()
    stamped = sum(account_keys.stamp_for_rotation(user, old, new) for user in users)
    # Who each account is, vouched for again under the new pepper where the old one vouched for it.
    for user in users:
        account_identity.stamp_for_rotation(user, old, new)
    stamped += enrolment.stamp_for_rotation(old, fallbacks_now, new)
    # From the old pepper only: the only markers ever consulted. One under an older pepper was written after that
    # pepper's rotation, by someone holding it, and goes.
    markers = characteristics.rekey_markers((old,), new)
    fallbacks = tuple(each.decode() for each in configured.token_peppers)
    return Prepared(pepper, fallbacks, old_id, sealing.pepper_id(new), len(unnamed), markers, stamped)


def record(prepared: Prepared) -> None:
    """The PEPPER_ROTATED row: call with the new pepper in force, so it is hashed under it."""
    if settings().token_pepper != prepared.new_pepper.encode():
        raise RotationRefused("The rotation's audit row must be written with the new pepper in force")
    audit.record(
        audit.Action.PEPPER_ROTATED, audit.Actor.SYSTEM, old_pepper=prepared.old_id, new_pepper=prepared.new_id
    )


def environment_lines(prepared: Prepared) -> str:
    """The environment file's two lines, as `speakup rotate-pepper` writes them."""
    return (
        f"SPEAKUP_TOKEN_PEPPER={prepared.new_pepper}\n"
        # Quoted whole: systemd's EnvironmentFile and a shell both take the quotes inside a bare ["..."] away.
        f"SPEAKUP_TOKEN_PEPPER_FALLBACKS={shlex.quote(json.dumps(list(prepared.fallbacks)))}\n"
    )
