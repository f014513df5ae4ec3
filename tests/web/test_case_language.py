"""The language a concern was raised in is kept with the case and shown to the guardian (issue 28, point 5): the
page's language for the raise form, the request's Accept-Language for the API. It is a code from a fixed list
(languages.KNOWN), sealed under the case key, and nowhere else: not on the board, in the return or in the audit."""

from __future__ import annotations

import json
import re

from flask import Flask
from flask.testing import FlaskClient
from support.factories import as_if_raised_last_quarter, case_row, gen_concern
from support.html import case_address, post_form, send_raise_form

from speakup.crypto import labels
from speakup.domain import raising
from speakup.domain.quarters import previous_quarter
from speakup.platform import clock
from speakup.platform.models import AuditEvent, Case, db

WORDS = "The night shift on ward 7 was left with one nurse"
HINT = "You may need an interpreter to talk with them. Your messages reach them as you write them, in any language."


def _raise_by_form(app: Flask, language: str | None) -> str:
    reporter = app.test_client()
    if language is not None:
        assert reporter.get(f"/raise?language={language}").status_code == 303
    sent = send_raise_form(reporter, what_happened=WORDS, anonymity="anonymous")
    assert sent.request.path == "/raise/sent", sent.request.path
    with app.app_context():
        return db.session.scalars(db.select(Case.reference)).one()


def _raised_in(client: FlaskClient, reference: str) -> str:
    page = client.get(case_address(client.application, reference)).get_data(as_text=True)
    row = page.split('id="case-language">')[1].split("</dd>")[0]
    return " ".join(re.sub(r"<[^>]+>", " ", row).split())


def test_raised_in_welsh_through_the_chooser_the_guardian_sees_cymraeg_and_an_interpreter_hint(app, signed):
    reference = _raise_by_form(app, "cy")
    shown = _raised_in(signed, reference)
    assert "Cymraeg (Welsh)" in shown and "interpreter" in shown


def test_raised_in_english_shows_english_without_a_hint(app, signed):
    reference = _raise_by_form(app, None)
    shown = _raised_in(signed, reference)
    assert "English" in shown and "interpreter" not in shown and "Welsh" not in shown


def test_the_api_records_the_language_of_accept_language_sealed_not_plain(app, signed):
    reporter = app.test_client()
    answer = reporter.post(
        "/api/v1/concerns",
        json={"what_happened": WORDS, "anonymity": "anonymous"},
        headers={"Accept-Language": "cy, en;q=0.5"},
    )
    assert answer.status_code == 201, answer.get_json()
    reference = answer.get_json()["reference"]
    assert "Cymraeg (Welsh)" in _raised_in(signed, reference)
    row = case_row(app, reference)
    assert row.language_ct is not None
    assert len(row.language_ct) == len(case_row(app, reference).concern_ct or b"")  # padded like any sealed text


def test_an_api_request_in_no_offered_language_records_none(app, signed):
    answer = app.test_client().post(
        "/api/v1/concerns", json={"what_happened": WORDS, "anonymity": "anonymous"}, headers={"Accept-Language": "fr"}
    )
    reference = answer.get_json()["reference"]
    assert case_row(app, reference).language_ct is None
    assert "Not recorded" in _raised_in(signed, reference)


def test_a_value_not_in_the_list_is_never_stored(app):
    with app.test_request_context():
        concern = raising.check_concern({"what_happened": WORDS, "anonymity": "anonymous"})
        for refused in ("xx", "cy; DROP TABLE cases", "Welsh", "CY-GB" * 20):
            raised = raising.raise_concern(concern, language=refused)
            case = db.session.scalars(db.select(Case).where(Case.reference == raised.reference)).one()
            assert case.language_ct is None, refused
        assert raising.known_language("cy") == "cy" and raising.known_language("fr") is None


def test_a_case_raised_before_it_was_recorded_says_not_recorded(app, signed):
    reference = gen_concern(signed, anonymity="anonymous")["reference"]
    with app.app_context():
        case = db.session.scalars(db.select(Case).where(Case.reference == reference)).one()
        case.language_ct = None
        db.session.commit()
    shown = _raised_in(signed, reference)
    assert "Not recorded" in shown and "interpreter" not in shown


def test_a_language_sealed_for_another_case_does_not_open(app, signed):
    first = _raise_by_form(app, "cy")
    other = gen_concern(signed)["reference"]
    with app.app_context():
        cases = {case.reference: case for case in db.session.scalars(db.select(Case))}
        cases[other].language_ct = cases[first].language_ct  # moved by a database writer
        db.session.commit()
    assert signed.get(case_address(app, other)).status_code == 500


def test_the_language_is_not_on_the_board_in_the_return_or_in_any_audit_row(app, signed):
    reference = _raise_by_form(app, "cy")
    assert "Cymraeg (Welsh)" in _raised_in(signed, reference)
    as_if_raised_last_quarter(app)  # counted in a quarter that has ended, on the board and in its return
    board = signed.get("/guardian/board").get_data(as_text=True)
    assert "Raised in" not in board and "Welsh" not in board
    quarter = previous_quarter(clock.uk_today())
    for version in ("submission", "published"):
        download = signed.get(f"/guardian/reports/national-return.csv?quarter={quarter.label}&version={version}")
        assert download.status_code == 200
        text = download.get_data(as_text=True)
        assert version == "published" or "Cases raised,1" in text.splitlines()
        assert "welsh" not in text.lower() and "cymraeg" not in text.lower() and "language" not in text.lower()
    with app.app_context():
        for event in db.session.scalars(db.select(AuditEvent)):
            detail = json.loads(event.detail)
            assert "language" not in event.detail and "cy" not in {str(value) for value in detail.values()}
        case = db.session.scalars(db.select(Case).where(Case.reference == reference)).one()
        assert case.language_ct is not None
        # Sealed under the case's own label: it opens for that case alone.
        assert labels.language(case.id) == f"speakup-v1|case:{case.id}|language|{case.id}".encode()


def _record(client: FlaskClient, **fields: str):
    form = {"channel": "phone", "what_happened": WORDS, "anonymity": "anonymous", **fields}
    return post_form(client, "/guardian/record", **form)


def test_a_recorded_concern_keeps_the_language_the_guardian_chose_or_none(app, signed):
    page = signed.get("/guardian/record").get_data(as_text=True)
    assert 'name="spoken_language"' in page and ">Cymraeg (Welsh)</option>" in page
    assert _record(signed, spoken_language="cy").status_code == 303
    assert _record(signed).status_code == 303
    with app.app_context():
        cases = db.session.scalars(db.select(Case).order_by(Case.created_at, Case.id)).all()
        sealed = {case.reference: case.language_ct for case in cases}
    assert sorted(value is None for value in sealed.values()) == [False, True]
    shown = {reference: _raised_in(signed, reference) for reference in sealed}
    assert sorted(shown.values()) == sorted(["Cymraeg (Welsh) " + HINT, "Not recorded"])


def test_a_recorded_language_off_the_list_is_refused_and_nothing_is_recorded(app, signed):
    refused = _record(signed, spoken_language="Klingon")
    assert refused.status_code == 303
    page = signed.get(refused.location).get_data(as_text=True)
    assert "Choose a language from the list, or leave it empty" in page
    with app.app_context():
        assert db.session.scalars(db.select(Case)).first() is None


def test_the_openapi_document_says_accept_language_is_kept_with_the_concern(app):
    document = app.test_client().get("/api/v1/openapi.json").get_json()
    parameters = document["paths"]["/concerns"]["post"]["parameters"]
    header = next(p for p in parameters if p["name"] == "Accept-Language")
    assert header["in"] == "header" and not header["required"] and "interpreter" in header["description"]


def test_a_guardian_reading_in_welsh_sees_the_language_named_in_welsh_too(app, signed):
    reference = _raise_by_form(app, None)
    address = case_address(app, reference)
    assert signed.get(f"{address}?language=cy").status_code == 303
    page = signed.get(address).get_data(as_text=True)
    assert "Iaith y pryder" in page and "Raised in" not in page
    assert _raised_in(signed, reference).startswith("English (Saesneg)")
