"""Raising a concern on the HTML pages: the form, its errors, and the one-time confirmation."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import event, func, select
from support.factories import gen_concern
from support.html import ACCESS_CODE_RE, CSRF_RE, REFERENCE_RE, SUBMISSION_RE, csrf_token, send_raise_form
from support.present import found, present, scalar

from speakup.crypto import access_codes, labels, sealing
from speakup.domain import raising
from speakup.keys import recovery
from speakup.platform.models import CASE_ID_LIMIT, Case, CaseGrant, db


def _case_count(app) -> int:
    with app.app_context():
        return scalar(select(func.count(Case.id)))


def test_home_page_explains_and_links(client):
    response = client.get("/")
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert 'href="/raise"' in page and "Raise a concern" in page
    assert 'href="/follow-up"' in page and "Check on a concern you raised" in page
    for words in ("Anonymously", "Confidentially", "Openly", "records no IP address", "Who reads it"):
        assert words in page


def test_raise_form_has_contract_names(client):
    page = client.get("/raise").get_data(as_text=True)
    assert '<label class="nhsuk-label nhsuk-label--l" for="what_happened">What happened?</label>' in page
    assert "How do you want to raise this concern?" in page
    for option in ("Anonymously", "Confidentially", "Openly"):
        assert f">{option}</label>" in page
    # "Continue" leads to "Check your answers", whose button is the last before the concern is sent.
    assert ">Continue</button>" in page and ">Submit concern</button>" not in page
    assert 'autocomplete="off"' in page


def test_raising_shows_code_and_reference_once(app, client):
    response = send_raise_form(client, what_happened="Bins blocking the fire exit", anonymity="anonymous")
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    code = found(ACCESS_CODE_RE, page)
    reference = found(REFERENCE_RE, page)
    assert access_codes.normalise_access_code(code)
    assert response.headers["Cache-Control"] == "no-store"
    with app.app_context():
        case = scalar(select(Case).where(Case.reference == reference))
        assert case.status == "received" and case.anonymity == "anonymous"
        assert case.identity_ct is None  # nothing identifying stored for an anonymous concern
        recipients = sorted(
            g.recipient for g in db.session.scalars(select(CaseGrant).where(CaseGrant.case_id == case.id))
        )
        assert recipients == ["recovery", "reporter"]
    # The confirmation is not reachable again: the code is never stored.
    assert code not in client.get("/").get_data(as_text=True)


def test_guardians_get_a_grant_when_a_concern_is_raised(app, client, guardian):
    send_raise_form(client, what_happened="Something", anonymity="anonymous")
    with app.app_context():
        grant = scalar(select(CaseGrant).where(CaseGrant.recipient == "guardian"))
        assert grant.user_id == guardian.id


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"what_happened": "", "anonymity": "anonymous"}, "what_happened", "Tell us what happened"),
        ({"what_happened": "x" * 20_001, "anonymity": "anonymous"}, "what_happened", "20,000 characters or fewer"),
        ({"what_happened": "Words", "anonymity": ""}, "anonymity", "Choose how you want to raise this concern"),
        ({"what_happened": "Words", "anonymity": "confidential"}, "name", "Enter your name"),
        ({"what_happened": "Words", "anonymity": "anonymous", "name": "Ann Other"}, "name", "Leave your name out"),
        ({"what_happened": "Words", "anonymity": "anonymous", "contact": "07700 900000"}, "contact", "Leave contact"),
        (
            {"what_happened": "Words", "anonymity": "open", "name": "A", "worker_group": "pilots"},
            "worker_group",
            "Choose a staff group",
        ),
    ],
)
def test_errors_show_next_to_the_field_and_keep_the_words(app, client, fields, field, message):
    typed = {"where": "Ward 7 – Ünïcode & <tags>", "when": "Tuesday night", **fields}
    response = send_raise_form(client, **typed)
    page = response.get_data(as_text=True)
    # The POST was answered with a redirect that carries none of it; the form's page shows it, kept server-side.
    (sent,) = response.history
    assert sent.status_code == 303 and sent.location == "/raise"
    assert "Ward 7" not in sent.get_data(as_text=True)
    assert response.status_code == 200
    assert "There is a problem" in page
    assert f'<a href="#{field}">' in page
    assert f'id="{field}-error"' in page and message in page
    assert "Ward 7 – Ünïcode &amp; &lt;tags&gt;" in page  # kept, and escaped
    if fields["what_happened"] and len(fields["what_happened"]) < 100:
        assert fields["what_happened"] in page
    assert _case_count(app) == 0


def test_twenty_thousand_characters_are_accepted(app, client):
    response = send_raise_form(client, what_happened="y" * 20_000, anonymity="anonymous")
    assert response.status_code == 200
    assert _case_count(app) == 1


def test_an_oversized_body_goes_back_to_the_form_saying_so(client):
    """Review finding F1: a 413 page in answer to the POST left its body in the browser's History (and on disk), for
    Reload to send again. It is a redirect to the form, which says why."""
    token = csrf_token(client, "/raise")
    response = client.post(
        "/raise", data={"csrf_token": token, "what_happened": "z" * (1024 * 1024 + 10), "anonymity": "anonymous"}
    )
    assert response.status_code == 303 and response.location == "/raise"
    assert "too large" in client.get(response.location).get_data(as_text=True)


def test_a_form_without_its_token_is_refused_without_echoing_it(app, client):
    """Issue 24: a refused form may be the next person at a shared computer replaying someone else's; it is never
    shown again (it used to be, "so nothing is lost")."""
    response = client.post("/raise", data={"what_happened": "Words from an old form", "anonymity": "anonymous"})
    assert response.status_code == 303 and response.location == "/raise"
    assert "Words from an old form" not in response.get_data(as_text=True)
    page = client.get(response.location).get_data(as_text=True)
    assert "nothing was sent" in page and "Words from an old form" not in page
    assert "Traceback" not in page
    assert _case_count(app) == 0


def test_a_form_without_its_token_elsewhere_is_sent_back_to_its_start(client):
    response = client.post("/follow-up", data={"access_code": "x"})
    assert response.status_code == 303 and response.location == "/follow-up"
    assert "nothing was sent" in client.get("/follow-up").get_data(as_text=True)


@contextmanager
def failing(app, statement_start: str, message: str) -> Iterator[None]:
    """The database fails every statement that starts ``statement_start``, as a dropped connection or a full disk
    would, while the block runs."""
    with app.app_context():
        engine = db.engine
    dbapi_error = engine.dialect.loaded_dbapi.OperationalError

    def fail(conn, cursor, statement, *args):
        if statement.lstrip().upper().startswith(statement_start):
            raise dbapi_error(message)

    event.listen(engine, "before_cursor_execute", fail)
    try:
        yield
    finally:
        event.remove(engine, "before_cursor_execute", fail)


@pytest.mark.parametrize("way", ["form", "checked", "api"])
def test_a_concern_the_database_would_not_store_is_an_error_line_the_operator_sees(app, client, caplog, way):
    """Outside review of issue 27, finding 4: a database refusing every new case (a full disk, a trigger) answered
    503 with nothing logged above INFO, so an operator alerting on ERROR never heard of it."""
    token = csrf_token(client, "/raise")
    full = "could not extend file: No space left on device"
    with failing(app, "INSERT INTO CASES", full), caplog.at_level(logging.ERROR, logger="speakup"):
        if way == "form":
            data = {"csrf_token": token, "what_happened": "Words", "anonymity": "anonymous"}
            response = client.post("/raise", data=data)
        elif way == "checked":  # through "Check your answers", as a browser sends it (outside review 2, finding 4)
            response = send_raise_form(client, what_happened="Words", anonymity="anonymous")
        else:
            body = {"what_happened": "Words", "anonymity": "anonymous"}
            response = app.test_client().post("/api/v1/concerns", json=body)
    assert response.status_code == 503
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert errors == ["database unavailable: OperationalError"], errors
    assert _case_count(app) == 0


def test_database_failure_mid_submit_keeps_text_and_leaves_nothing(app, client, monkeypatch):
    """The database fails while the grants are written: a 503 page with the words, and no half case."""
    token = csrf_token(client, "/raise")
    with failing(app, "INSERT INTO CASE_GRANTS", "server closed the connection unexpectedly"):
        response = client.post(
            "/raise",
            data={"csrf_token": token, "what_happened": "Words that must survive", "anonymity": "anonymous"},
        )
    page = response.get_data(as_text=True)
    assert response.status_code == 503
    assert "Words that must survive" in page and "Nothing was stored" in page
    assert _case_count(app) == 0


def test_a_raise_stores_every_grant_in_one_insert(app, client, guardian):
    """The protocol's limit: each guardian, the recovery key and the reporter get a grant, and they reach
    the database as one INSERT statement carrying every row, not one per kind of recipient."""
    with app.app_context():
        engine = db.engine
        inserts: list[tuple[str, Any]] = []  # (statement, its rows)

        def watch(conn, cursor, statement, parameters, context, executemany):
            if statement.lstrip().upper().startswith("INSERT INTO CASE_GRANTS"):
                inserts.append((statement, parameters))

        event.listen(engine, "before_cursor_execute", watch)
        try:
            gen_concern(client, what_happened="One insert for every grant")
        finally:
            event.remove(engine, "before_cursor_execute", watch)
        grants = scalar(select(func.count()).select_from(CaseGrant))
    assert grants >= 3  # a guardian, the recovery key, the reporter
    assert len(inserts) == 1, [statement[:60] for statement, _ in inserts]
    statement, parameters = inserts[0]
    if isinstance(parameters, list | tuple) and isinstance(parameters[0], dict | list | tuple):
        assert len(parameters) == grants  # the rows, given at once to the one prepared statement
    else:  # the driver's batch rendered as one VALUES list: every row's values in the one statement
        assert statement.upper().count("VALUES") == 1 and len(parameters) >= 5 * grants


def _raise_and_read_back(app, client, words: str) -> Case:
    raised = gen_concern(client, what_happened=words)
    opened = client.get("/api/v1/follow-up", headers={"Authorization": f"Bearer {raised['access_code']}"})
    assert opened.status_code == 200 and opened.get_json()["reference"] == raised["reference"]
    with app.app_context():  # sealed and wrapped for the id it was stored under, not the refused one
        case = scalar(select(Case).where(Case.reference == raised["reference"]))
        case_key = recovery.recovery_case_key(case, app.config["TEST_RECOVERY_PRIVATE_KEY"])
        sealed = sealing.open_text(case_key, present(case.concern_ct, "concern"), labels.concern(case.id))
        assert json.loads(sealed)["what_happened"] == words
        return case


def test_a_taken_case_id_or_reference_is_drawn_again(app, client, monkeypatch):
    """Case ids and references are random; a clash is refused by the schema and the concern is stored anyway,
    whole, under fresh ones, and the reporter's code opens it."""
    gen_concern(client)
    with app.app_context():
        taken_id, taken_reference = db.session.execute(select(Case.id, Case.reference)).one()
    free_id = taken_id + 1 if taken_id < CASE_ID_LIMIT else taken_id - 1
    monkeypatch.setattr(raising, "new_case_id", iter([taken_id, free_id]).__next__)
    assert _raise_and_read_back(app, client, "Second concern, id clash").id == free_id

    monkeypatch.setattr(raising, "new_case_id", iter([99, 100]).__next__)
    monkeypatch.setattr(raising, "_new_reference", iter([taken_reference, "SU-FRESH234"]).__next__)
    case = _raise_and_read_back(app, client, "Third concern, reference clash")
    assert (case.id, case.reference) == (100, "SU-FRESH234")

    with app.app_context():
        stored = set(db.session.scalars(select(Case.id)))
        assert stored == {taken_id, free_id, 100}
        # Every case has its whole set of grants, none left over from an attempt that was refused.
        grants = dict(db.session.execute(select(CaseGrant.case_id, func.count()).group_by(CaseGrant.case_id)).all())
        assert set(grants) == stored and len(set(grants.values())) == 1


def test_a_concern_that_keeps_clashing_is_refused_without_a_trace(app, client, monkeypatch):
    gen_concern(client)
    with app.app_context():
        taken_id = scalar(select(Case.id))
    drawn = []

    def taken() -> int:
        drawn.append(taken_id)
        return taken_id

    monkeypatch.setattr(raising, "new_case_id", taken)
    response = client.post("/api/v1/concerns", json={"what_happened": "Never stored", "anonymity": "anonymous"})
    assert response.status_code == 503 and "Never stored" not in response.get_data(as_text=True)
    assert len(drawn) == raising.NEW_CASE_ATTEMPTS
    assert _case_count(app) == 1


def test_pages_carry_security_headers(client):
    for url in ("/", "/raise", "/follow-up", "/guardian/sign-in"):
        headers = client.get(url).headers
        assert headers["Cache-Control"] == "no-store"
        assert headers["Referrer-Policy"] == "no-referrer"
        assert "script-src 'self'" in headers["Content-Security-Policy"]
        assert "unsafe-inline" not in headers["Content-Security-Policy"]


def test_pages_load_nothing_from_other_hosts(app, client):
    for url in ("/", "/raise", "/follow-up", "/guardian/sign-in"):
        page = client.get(url).get_data(as_text=True)
        # A link away is not a load: "Exit this page" leaves for another site (EXIT_PAGE_URL), and nothing else.
        away = re.findall(r'<a [^>]*href="((?:https?:)?//[^"]*)"', page)
        assert away in ([], [app.config["EXIT_PAGE_URL"]]), url
        without_links = re.sub(r"<a [^>]*>", "", page)
        assert not re.search(r'(src|href)="(https?:)?//', without_links), url
        assert "<script>" not in page and " style=" not in page


def test_submit_rate_limit_answers_429_with_retry_after(database_url):
    from support.apps import install_organisation_keys, make_app

    app = make_app(database_url, SUBMIT_RATE_LIMIT="2 per minute")
    install_organisation_keys(app)
    client = app.test_client()
    for _ in range(2):
        assert send_raise_form(client, what_happened="w", anonymity="anonymous").status_code == 200
    words = "The third concern from this ward today."
    response = send_raise_form(client, what_happened=words, anonymity="anonymous")
    # Review finding F1: the 429 was a page answering the POST, which the browser kept with its body; Reload after
    # the limit's window raised the concern and showed its code to whoever pressed it. Now a redirect to the form,
    # the words kept for this browser only, the POST's answer carrying none of them.
    (sent,) = response.history
    assert sent.status_code == 303 and int(sent.headers["Retry-After"]) > 0
    assert words not in sent.get_data(as_text=True)
    page = response.get_data(as_text=True)
    assert "send it again in a little while" in page and words in page
    with app.app_context():
        db.engine.dispose()


def test_the_same_concern_sent_again_over_the_limit_is_answered_with_its_confirmation(database_url):
    """Review 25, F2: a double click or Reload of a concern already raised, once the network's limit was used up,
    was told "yours was not sent yet... send it again", with its words kept again under the used form; a person
    who obeyed raised it twice. A send that already raised a concern is answered by it, over the limit or not."""
    from support.apps import install_organisation_keys, make_app

    app = make_app(database_url, SUBMIT_RATE_LIMIT="2 per minute")
    install_organisation_keys(app)
    client = app.test_client()
    page = client.get("/raise").get_data(as_text=True)
    token, submission = CSRF_RE.search(page), SUBMISSION_RE.search(page)
    assert token and submission
    words = "The first concern from this ward today."
    data = {"csrf_token": token.group(1), "submission": submission.group(1), "what_happened": words,
            "anonymity": "anonymous"}  # fmt: skip
    first = client.post("/raise", data=data, follow_redirects=True).get_data(as_text=True)
    reference = re.search(r'id="case-reference">([^<]+)<', first)
    assert reference
    other = app.test_client()  # another person on the same network uses the limit up
    assert send_raise_form(other, what_happened="w", anonymity="anonymous").status_code == 200
    assert send_raise_form(other, what_happened="w", anonymity="anonymous").request.path == "/raise"  # over it

    again = client.post("/raise", data=data)
    assert again.status_code == 303 and again.headers["Location"].endswith("/raise/sent")
    shown = client.get("/raise/sent").get_data(as_text=True)
    assert reference.group(1) in shown and "not sent yet" not in shown
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Case)) == 2  # the first, and the other person's one
        db.engine.dispose()


def test_a_file_over_the_limit_is_named_as_the_reason_not_the_text(app, client):
    """Review 25, F5: a concern sent with a file over the limit was told to shorten its text."""
    import io

    token = csrf_token(client, "/raise")
    too_big = io.BytesIO(b"\0" * (app.config["ATTACHMENT_MAX_BYTES"] + 2 * 1024 * 1024))
    response = client.post(
        "/raise",
        data={"csrf_token": token, "what_happened": "A short concern", "anonymity": "anonymous",
              "attachment": (too_big, "scan.pdf", "application/pdf")},
        content_type="multipart/form-data",
    )  # fmt: skip
    assert response.status_code == 303 and response.location == "/raise"
    page = client.get(response.location).get_data(as_text=True)
    assert "The file you chose is larger than 10 MB" in page and "Shorten your text" not in page
