"""The sealed floor: a bare Flask + Flask-SQLAlchemy endpoint that does the cryptography one raised concern does,
and the protocol's writes, with none of Speak Up's framework.

`POST /sealed-floor` takes the JSON `POST /api/v1/concerns` takes and, with Speak Up's own primitives
(speakup/crypto: no Flask, no database in there), does what `raising._store_new_case` does for the keys:

- a random case id and a fresh case key; the concern's words sealed under it (AES-256-GCM, the same associated
  data), and the name and contact too unless it is anonymous;
- an access code, its lookup id (HMAC under the pepper) and the reporter's grant: HKDF of the code, the case key
  sealed under it;
- the case key wrapped with HPKE (ML-KEM-768 + X25519) for every guardian and the recovery key;
- the case row, then every grant in ONE multi-row INSERT (the protocol's limit), one commit; 201.

No validation beyond reading the fields, no audit chain, event, idempotency row, CSRF, rate limit, template or
roster verification: the recipients' public keys are read once per worker (the app caches its verified roster too).
Its tables (bench_sealed_cases, bench_sealed_grants) have the unique keys and indexes of Speak Up's `cases` lookups
and `case_grants`, so each insert maintains what the protocol needs. Served as the floor is:
`gunicorn 'bench.sealed_floor:create_sealed_floor_app()' -c gunicorn.conf.py`.
"""

from __future__ import annotations

import os
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from types import SimpleNamespace
from typing import TYPE_CHECKING, cast

from flask import Flask, jsonify, request
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import ForeignKey, LargeBinary, String, Table, UniqueConstraint, insert, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from speakup.crypto import access_codes, sealing
from speakup.domain.raising import ConcernInput, seal_concern
from speakup.keys.grants import wrap_new_case_key
from speakup.platform import clock

from .floor import bare_app, create_tables, serve_health

CASE_ID_LIMIT = 2**31 - 1  # as speakup.platform.models.cases: random ids, known before the transaction
ATTEMPTS = 3  # a clash of random id, reference or lookup id is drawn again, as raise_concern does


class Base(DeclarativeBase):
    pass


db = SQLAlchemy(model_class=Base)

# db.Model is made at run time: to a type checker the rows derive from Base (as speakup/platform/models/base.py).
if TYPE_CHECKING:
    Model = Base
else:
    Model = db.Model


class SealedCase(Model):
    __tablename__ = "bench_sealed_cases"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    reference: Mapped[str] = mapped_column(String(20), unique=True)
    access_lookup_id: Mapped[str] = mapped_column(String(64), unique=True)
    concern_ct: Mapped[bytes] = mapped_column(LargeBinary)
    identity_ct: Mapped[bytes | None] = mapped_column(LargeBinary)
    protocol: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime]


class SealedGrant(Model):
    """The shape of Speak Up's case_grants: the same columns, indexes and unique key."""

    __tablename__ = "bench_sealed_grants"
    __table_args__ = (UniqueConstraint("case_id", "recipient", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("bench_sealed_cases.id", ondelete="CASCADE"), index=True)
    recipient: Mapped[str] = mapped_column(String(20))
    user_id: Mapped[int | None] = mapped_column(index=True)
    wrapped_key: Mapped[bytes] = mapped_column(LargeBinary)
    salt: Mapped[bytes | None] = mapped_column(LargeBinary)
    protocol: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime]
    read_at: Mapped[datetime | None]


@dataclass(frozen=True)
class Recipients:
    """Who every new case key is wrapped for: (user id, HPKE public key) per guardian, and the recovery key."""

    guardians: tuple[tuple[int, bytes], ...]
    recovery: bytes


def recipients_from_database() -> Recipients:
    """Every guardian with keys and the organisation's recovery key, from Speak Up's own tables (call in an app
    context). In the benchmark that is the 10 guardians, all on the verified roster."""
    rows = db.session.execute(
        text("SELECT id, public_key FROM users WHERE role = 'guardian' AND public_key IS NOT NULL ORDER BY name")
    ).all()
    recovery = db.session.scalar(text("SELECT public_key FROM organisation_keys WHERE purpose = 'recovery'"))
    if recovery is None:
        raise RuntimeError("no recovery key: run `flask speakup init` first")
    return Recipients(tuple((int(user_id), bytes(key)) for user_id, key in rows), bytes(recovery))


def seal_new_case(body: dict, recipients: Recipients, pepper: bytes) -> tuple[dict, list[dict], str]:
    """The case row, its grant rows and the access code: all the cryptography of one raise, no database."""
    case_id = secrets.randbelow(CASE_ID_LIMIT) + 1
    case_key = sealing.new_case_key()
    # The app's own sealing of the words and, unless anonymous, the name and contact.
    fields = {name: body.get(name, "") for name in ("where", "when", "name", "contact", "anonymity")}
    concern = ConcernInput(what_happened=body["what_happened"], **fields)
    reference = "SF-" + "".join(secrets.choice(access_codes.ALPHABET) for _ in range(8))
    concern_ct, identity_ct = seal_concern(case_id, reference, case_key, concern)
    access_code = access_codes.new_access_code()
    normalised = access_codes.normalise_access_code(access_code)
    # The app's own function (it touches no database): the same wraps and reporter grant by construction.
    guardians = [SimpleNamespace(id=user_id, public_key=key) for user_id, key in recipients.guardians]
    rows = wrap_new_case_key(case_id, case_key, guardians, recipients.recovery, normalised)
    case = {
        "id": case_id,
        "reference": reference,
        "access_lookup_id": access_codes.access_code_lookup_id(pepper, normalised),
        "concern_ct": concern_ct,
        "identity_ct": identity_ct,
        "protocol": sealing.PROTOCOL,
        "created_at": clock.utcnow(),
    }
    return case, rows, access_code


def create_sealed_floor_app(
    uri: str | None = None, recipients: Callable[[], Recipients] = recipients_from_database
) -> Flask:
    """The sealed floor's app. ``recipients`` is called once, on the first concern (after gunicorn's fork)."""
    app = bare_app(__name__, db, uri)
    pepper = os.environ.get("SPEAKUP_TOKEN_PEPPER", "sealed-floor-only").encode()
    cache: dict[str, Recipients] = {}
    lock = threading.Lock()

    def cached_recipients() -> Recipients:
        if "recipients" not in cache:
            with lock:
                if "recipients" not in cache:
                    cache["recipients"] = recipients()
        return cache["recipients"]

    @app.post("/sealed-floor")
    def raise_sealed():
        body = request.get_json()
        for attempt in range(1, ATTEMPTS + 1):
            # All the cryptography first, then the writes: the id is known, so no lock is held while sealing.
            case, rows, access_code = seal_new_case(body, cached_recipients(), pepper)
            try:
                db.session.add(SealedCase(**case))
                # As the app stores them (speakup/keys/grants.py store_grants): one INSERT given every grant row.
                db.session.execute(insert(cast(Table, SealedGrant.__table__)), rows)  # a mapped class's table
                db.session.commit()
                break
            except IntegrityError:
                db.session.rollback()
                if attempt == ATTEMPTS:
                    raise
        return jsonify(reference=case["reference"], access_code=access_code, status="received"), 201

    serve_health(app, db)
    return app


def create_sealed_floor_tables(uri: str) -> None:
    create_tables(create_sealed_floor_app(uri), db)
