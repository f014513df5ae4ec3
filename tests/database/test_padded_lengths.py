"""What a stolen database shows of a concern: its stored ciphertexts are as long for a one-letter name as for a
forty-letter one, for a short message as for a longer one (padded to fixed buckets, speakup/crypto/padding.py),
and rows sealed before padding still open."""

from __future__ import annotations

import json
from dataclasses import dataclass

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from support.factories import gen_concern, gen_staff
from support.present import get_row, present, scalar

from speakup.crypto import labels, sealing
from speakup.domain import handling, reading
from speakup.keys import recovery
from speakup.platform.models import Case, CaseNote, Message, User, db
from speakup.platform.models.roles import Author


@dataclass(frozen=True)
class Stored:
    """A case's sealed columns, as a stolen database shows them."""

    identity: bytes
    concern: bytes
    messages: list[tuple[str, bytes]]
    notes: list[bytes]


def _stored(app: Flask, client: FlaskClient, guardian_id: int, name: str, words: str, message: str) -> Stored:
    """A confidential concern raised with ``name`` and ``words``, then ``message`` from the reporter, from the
    guardian and as the guardian's note."""
    identity = {"name": name, "contact": name + "@example.org"}
    raised = gen_concern(client, anonymity="confidential", what_happened=words, **identity)
    bearer = {"Authorization": f"Bearer {raised['access_code']}"}
    assert client.post("/api/v1/follow-up/messages", json={"body": message}, headers=bearer).status_code == 201
    with app.app_context():
        case = scalar(select(Case).where(Case.reference == raised["reference"]))
        case_key = recovery.recovery_case_key(case, app.config["TEST_RECOVERY_PRIVATE_KEY"])
        staff = get_row(User, guardian_id)
        handling.post_message(case, case_key, Author.GUARDIAN, message, guardian=staff)
        handling.add_note(case, case_key, staff, message)
        messages = db.session.scalars(select(Message).where(Message.case_id == case.id).order_by(Message.id))
        notes = db.session.scalars(select(CaseNote).where(CaseNote.case_id == case.id))
        return Stored(
            present(case.identity_ct, "identity"),
            present(case.concern_ct, "concern"),
            [(m.author, m.body_ct) for m in messages],
            [n.body_ct for n in notes],
        )


def test_stored_lengths_do_not_tell_a_short_name_or_message_from_a_longer_one(app: Flask, client: FlaskClient) -> None:
    guardian = gen_staff(app).id
    short = _stored(app, client, guardian, "A", "Unsafe.", "Ok")
    longer = "Unsafe staffing on the night shift, again. " * 3
    long = _stored(app, client, guardian, "B" * 40, longer, "Thank you, " + "x" * 90)
    # Lengths only, so a failure shows numbers and never a ciphertext.
    assert [a for a, _ in short.messages] == [a for a, _ in long.messages] == ["reporter", "guardian"]
    assert short.notes and long.notes
    lengths = {
        "identity": (len(short.identity), len(long.identity)),
        "concern": (len(short.concern), len(long.concern)),
        **{f"{a} message": (len(m), len(n)) for (a, m), (_, n) in zip(short.messages, long.messages, strict=True)},
        "note": (len(short.notes[0]), len(long.notes[0])),
    }
    assert all(one == other for one, other in lengths.values()), lengths
    formats = [sealed[0] for sealed in (short.identity, short.concern, *(m for _, m in short.messages), *short.notes)]
    assert formats == [sealing.PADDED_VERSION_BYTE[0]] * len(formats)


def test_rows_sealed_before_padding_still_open(app: Flask, client: FlaskClient) -> None:
    """A database from before padding: the same rows, sealed without it (format 0x01), read as they always were."""
    gen_staff(app)
    raised = gen_concern(client, anonymity="open", name="Nadia", what_happened="Unsafe.")
    bearer = {"Authorization": f"Bearer {raised['access_code']}"}
    assert client.post("/api/v1/follow-up/messages", json={"body": "More"}, headers=bearer).status_code == 201
    with app.app_context():
        case = scalar(select(Case).where(Case.reference == raised["reference"]))
        case_key = recovery.recovery_case_key(case, app.config["TEST_RECOVERY_PRIVATE_KEY"])

        def unpadded(text: str, aad: bytes) -> bytes:
            return sealing.seal(case_key, text.encode(), aad)  # what seal_text wrote before padding

        identity = {"name": "Nadia", "contact": ""}
        words = {"what_happened": "Unsafe.", "where": "", "when": ""}
        case.identity_ct = unpadded(json.dumps(identity), labels.identity(case.id))
        case.concern_ct = unpadded(json.dumps(words), labels.concern(case.id))
        message = db.session.scalars(select(Message).where(Message.case_id == case.id)).one()
        message.body_ct = unpadded("More", labels.message(case.id, message.uid))
        db.session.commit()
        assert case.identity_ct[0] == sealing.VERSION_BYTE[0]

        view = reading.guardian_view(case, case_key)
        assert (view.what_happened, view.name, [m.body for m in view.messages]) == ("Unsafe.", "Nadia", ["More"])
    opened = client.get("/api/v1/follow-up", headers=bearer).get_json()
    assert [m["body"] for m in opened["messages"]] == ["More"]
