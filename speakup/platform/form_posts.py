"""Where each sent HTML form went, and the words of one that came back with errors (speakup/web/once.py).

A row is claimed in the transaction of the request that sends the form, so of two sends of one form (a double click,
Reload, Back and send again) only one does anything; the other finds the row and follows the first to where it
went. Nothing in a row says what the form was or who sent it: a keyed hash of the nonce, a path, times to the
minute, and the kept words sealed under a key that needs a secret the sender's cookie holds. The raise form's checked
answers keep their file the same way (already cleaned, sealed with the words, gone with them): "Check your answers"
comes between choosing it and sending it.
"""

from __future__ import annotations

import base64
import json
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, cast

from flask import current_app
from sqlalchemy import CursorResult, delete, select, update
from sqlalchemy.exc import IntegrityError

from speakup.crypto import labels, sealing
from speakup.platform import clock, transactions
from speakup.platform.attachments import CleanFile
from speakup.platform.config import settings
from speakup.platform.models import FormPost, db

PURPOSE = "form-post"


@dataclass(frozen=True)
class Kept:
    """A form's words and the messages beside its fields, as it came back."""

    form: str
    values: dict[str, str] = field(repr=False)
    errors: dict[str, str] = field(repr=False)
    file: CleanFile | None = field(default=None, repr=False)  # a checked, cleaned upload kept with the words


def _file_payload(clean: CleanFile | None) -> dict[str, object] | None:
    if clean is None:
        return None
    data = base64.b64encode(clean.data).decode("ascii")
    return {"name": clean.filename, "type": clean.content_type, "data": data, "removed": list(clean.removed)}


def _file_from(payload: object) -> CleanFile | None:
    if not isinstance(payload, dict):
        return None
    removed = tuple(str(item) for item in payload.get("removed", []))
    return CleanFile(str(payload["name"]), str(payload["type"]), base64.b64decode(payload["data"]), removed)


def lookup_for(nonce: str) -> str:
    return sealing.keyed_hash(settings().token_pepper, nonce, PURPOSE)


def _lookups(value: str, purpose: str) -> tuple[str, ...]:
    """A row's lookup under each configured pepper, current first: a form sent, a browser signed out or words kept
    before a rotation of the pepper are still found (rows are written under the current one)."""
    return sealing.keyed_hashes(settings().token_peppers, value, purpose)


def _found(value: str, purpose: str) -> FormPost | None:
    return db.session.scalar(
        select(FormPost)
        .where(FormPost.lookup.in_(_lookups(value, purpose)))
        .limit(1)
        .execution_options(populate_existing=True)
    )


def _key(nonce: str, browser_secret: str, lookup: str | None = None) -> bytes:
    """The key of the words kept under ``lookup`` (the current pepper's by default)."""
    peppers, lookups = settings().token_peppers, _lookups(nonce, PURPOSE)
    pepper = peppers[lookups.index(lookup)] if lookup in lookups else peppers[0]
    return sealing.key_from_token(f"{browser_secret}|{nonce}", labels.KEPT_FORM_KEY, pepper)


def claim(nonce: str) -> bool:
    """Claims the form before anything is done for it: False when another send already has. Committed apart
    (platform/transactions.py), a short transaction, so a second send sees it at once and no lock is held while the
    form's work is done (an Argon2id sign-in, on SQLite)."""
    if len(settings().token_peppers) > 1 and _found(nonce, PURPOSE) is not None:
        return False  # sent before a rotation of the pepper, under the old one
    db.session.add(FormPost(lookup=lookup_for(nonce), created_at=clock.minute_now()))
    try:
        transactions.commit_apart()
    except IntegrityError:
        db.session.rollback()
        return False
    return True


def where_it_went(nonce: str, wait_seconds: float = 0) -> FormPost | None:
    """The first send's record, once it was answered (``target`` set: a path, or "" for an answer that was not a
    redirect), waiting up to ``wait_seconds`` for a send still under way (a double click)."""
    deadline = time.monotonic() + wait_seconds
    while True:
        row = _found(nonce, PURPOSE)
        if row is None or row.target is not None or time.monotonic() >= deadline:
            return row
        db.session.rollback()  # a fresh transaction sees the first send's commit
        time.sleep(0.05)


def seal_kept(nonce: str, browser_secret: str, kept: Kept) -> bytes:
    payload = json.dumps(
        {"form": kept.form, "values": kept.values, "errors": kept.errors, "file": _file_payload(kept.file)}
    )
    return sealing.seal_text(_key(nonce, browser_secret), payload, labels.kept_form(lookup_for(nonce)))


def record(nonce: str, target: str | None, kept_ct: bytes | None) -> None:
    """Where the answer sent the browser ("" when it was not a redirect), and the kept words if it came back with
    errors. The caller commits."""
    now = clock.minute_now()
    row = _found(nonce, PURPOSE)
    if row is None:  # the view rolled back its transaction, the claim with it: claimed again now
        row = FormPost(lookup=lookup_for(nonce), created_at=now)
        db.session.add(row)
    row.target = target
    row.kept_ct = kept_ct
    row.kept_at = now if kept_ct is not None else None


GONE = "browser-gone"


def _gone_lookup(browser_secret: str) -> str:
    return sealing.keyed_hash(settings().token_pepper, browser_secret, GONE)


def record_browser_gone(browser_secret: str) -> None:
    """A browser's session ended (sign-out, time-out): its forms' nonces no longer pass, whoever holds a copy of its
    cookie. Kept as long as a nonce would pass (FORM_HOURS). The caller commits."""
    lookup = _gone_lookup(browser_secret)
    if _found(browser_secret, GONE) is None:
        db.session.add(FormPost(lookup=lookup, created_at=clock.minute_now(), target=""))


def browser_gone(browser_secret: str) -> bool:
    # Under any configured pepper: a browser signed out before a rotation stays signed out.
    return _found(browser_secret, GONE) is not None


def open_kept(nonce: str, browser_secret: str) -> Kept | None:
    """The kept words, while they may still be shown."""
    row = _found(nonce, PURPOSE)
    if row is None or row.kept_ct is None or row.kept_at is None or row.kept_at < _kept_since(clock.utcnow()):
        return None
    try:
        payload = json.loads(
            sealing.open_text(_key(nonce, browser_secret, row.lookup), row.kept_ct, labels.kept_form(row.lookup))
        )
    except (sealing.DecryptionError, ValueError):
        return None
    return Kept(payload["form"], payload["values"], payload["errors"], _file_from(payload.get("file")))


def forget_kept(nonce: str) -> None:
    """The words are no longer kept (the person moved on, signed out, or sent the form again). The caller commits."""
    db.session.execute(
        update(FormPost).where(FormPost.lookup.in_(_lookups(nonce, PURPOSE))).values(kept_ct=None, kept_at=None)
    )


UNSENT = "unsent-at-time-out"


def account_lookup(account: int) -> str:
    """The keyed name of an account's one slot for the words it had typed when its session timed out."""
    return sealing.keyed_hash(settings().token_pepper, str(account), UNSENT)


def hold_for_account(account: int, sealed: bytes) -> None:
    """Keeps ``sealed`` (words sealed to the account's own public key, speakup/domain/time_outs.py) in the account's
    one slot, replacing what it held, for KEPT_FORM_MINUTES. The caller commits."""
    now = clock.minute_now()
    row = db.session.get(FormPost, account_lookup(account))
    if row is None:
        row = FormPost(lookup=account_lookup(account), created_at=now, target="")
        db.session.add(row)
    row.created_at, row.kept_ct, row.kept_at = now, sealed, now


def take_for_account(account: int) -> bytes | None:
    """What ``hold_for_account`` kept, while it may still be used, and never again (the row goes). The caller
    commits. Words kept under a pepper since rotated are not found (they live KEPT_FORM_MINUTES, and a rotation
    stops the service); ``purge`` takes them."""
    row = db.session.get(FormPost, account_lookup(account))
    if row is None:
        return None
    sealed, kept_at = row.kept_ct, row.kept_at
    db.session.delete(row)
    if sealed is None or kept_at is None or kept_at < _kept_since(clock.utcnow()):
        return None
    return sealed


def _kept_since(now: datetime) -> datetime:
    return now - timedelta(minutes=current_app.config["KEPT_FORM_MINUTES"])


def purge(now: datetime | None = None) -> int:
    """Deletes the records of forms older than FORM_HOURS (their nonces no longer pass) and the words kept longer
    than KEPT_FORM_MINUTES. The caller commits."""
    now = now or clock.utcnow()
    cutoff = now - timedelta(hours=current_app.config["FORM_HOURS"])
    expired = db.session.execute(delete(FormPost).where(FormPost.created_at < cutoff))
    deleted = cast("CursorResult[Any]", expired).rowcount  # a DELETE's result is a CursorResult
    db.session.execute(update(FormPost).where(FormPost.kept_at < _kept_since(now)).values(kept_ct=None, kept_at=None))
    return deleted
