"""One form, one concern: however often the raise form is sent, reloaded or gone back to, and
however often an API client retries with the same Idempotency-Key, one concern is raised, and every answer shows
the one access code that opens it."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update
from support.factories import reference_opened_by
from support.html import ACCESS_CODE_RE, CSRF_RE, REFERENCE_RE, SUBMISSION_RE, csrf_token
from support.present import found, present, scalar

from speakup.domain import raising, submissions
from speakup.platform import clock
from speakup.platform.models import Case, Submission, db

WORDS = "The sluice room door on ward 4 does not lock and the chemicals are kept there."


def _case_count(app) -> int:
    with app.app_context():
        return scalar(select(func.count()).select_from(Case))


def _filled_form(client) -> dict[str, str]:
    page = client.get("/raise").get_data(as_text=True)
    return {
        "csrf_token": found(CSRF_RE, page),
        "submission": found(SUBMISSION_RE, page),
        "what_happened": WORDS,
        "anonymity": "anonymous",
    }


def _code_and_reference(page: str) -> tuple[str | None, str]:
    code = ACCESS_CODE_RE.search(page)
    return (code.group(1) if code else None), found(REFERENCE_RE, page)


def test_the_form_posts_then_redirects_and_a_reload_shows_the_same_code(app, client):
    form = _filled_form(client)
    sent = client.post("/raise", data=form)
    assert sent.status_code == 303 and sent.headers["Location"].endswith("/raise/sent")
    first = client.get("/raise/sent")
    assert first.status_code == 200 and first.headers["Cache-Control"] == "no-store"
    code, reference = _code_and_reference(first.get_data(as_text=True))
    assert reference_opened_by(app, present(code, "access code")) == reference
    # A reload, and the same form sent again (Back, then Submit once more): nothing new, the same code.
    assert _code_and_reference(client.get("/raise/sent").get_data(as_text=True)) == (code, reference)
    again = client.post("/raise", data=form, follow_redirects=True)
    assert _code_and_reference(again.get_data(as_text=True)) == (code, reference)
    assert _case_count(app) == 1


def test_a_second_form_raises_a_second_concern(app, client):
    for _ in range(2):
        assert client.post("/raise", data=_filled_form(client)).status_code == 303
    assert _case_count(app) == 2


def test_a_form_that_failed_keeps_its_token_so_fixing_it_raises_once(app, client):
    form = _filled_form(client)
    refused = client.post("/raise", data={**form, "anonymity": ""})
    assert refused.status_code == 303 and refused.location == "/raise"
    assert f'name="submission" value="{form["submission"]}"' in client.get("/raise").get_data(as_text=True)
    for _ in range(2):
        assert client.post("/raise", data=form).status_code == 303
    assert _case_count(app) == 1


def test_the_code_is_sealed_at_rest_and_forgotten_once_saved(app, client):
    client.post("/raise", data=_filled_form(client))
    code, reference = _code_and_reference(client.get("/raise/sent").get_data(as_text=True))
    with app.app_context():
        row = scalar(select(Submission))
        assert row.kind == "form" and row.reference == reference
        code = present(code, "access code")
        for secret in (code, code.replace("-", "")):
            assert secret.encode() not in present(row.answer_ct, "sealed answer")

    saved = client.post("/raise/sent", data={"csrf_token": csrf_token(client, "/raise/sent/hide")})
    assert saved.status_code == 303 and saved.headers["Location"].endswith("/raise/done")
    assert "no longer shows its access code" in client.get("/raise/done").get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(select(Submission.answer_ct)) is None
    # Back to the confirmation: no code any more, and the page says why.
    assert client.get("/raise/sent").status_code == 302  # this browser no longer holds the confirmation


def test_the_same_form_after_the_code_was_saved_shows_nothing_about_the_concern(app, client):
    form = _filled_form(client)
    client.post("/raise", data=form)
    reference = _code_and_reference(client.get("/raise/sent").get_data(as_text=True))[1]
    client.post("/raise/sent", data={"csrf_token": csrf_token(client, "/raise/sent/hide")})
    # Saving the code forgot this browser's whole session (for the shared computer), so the same form sent again is
    # refused.
    again = client.post("/raise", data=form, follow_redirects=True)
    page = again.get_data(as_text=True)
    assert again.history[0].status_code == 303 and "nothing was sent" in page
    assert 'id="access-code"' not in page and reference not in page  # nothing for the next person at this computer
    assert WORDS not in page
    assert _case_count(app) == 1
    assert client.get("/raise/sent").status_code == 302  # and the page is gone from this browser


def test_a_token_planted_by_another_site_is_never_honoured(app, client):
    """Another site posts this form with a token of its choosing (the CSRF check refuses it, and the form comes
    back), hoping the person sends their concern under that token and the planter can then open its confirmation."""
    planted = "P" * 32
    refused = client.post("/raise", data={"submission": planted, "what_happened": WORDS, "anonymity": "anonymous"})
    assert refused.status_code == 303 and planted not in refused.get_data(as_text=True)
    assert planted not in client.get(refused.location).get_data(as_text=True)
    # Nor is a token this browser was not given honoured when sent with a valid form: it is a new send.
    victim = app.test_client()
    form = _filled_form(victim)
    victim.post("/raise", data=form)
    victim_code, _ = _code_and_reference(victim.get("/raise/sent").get_data(as_text=True))
    attacker = app.test_client()
    stolen = {**_filled_form(attacker), "submission": form["submission"], "what_happened": "Anything"}
    answer = attacker.post("/raise", data=stolen, follow_redirects=True).get_data(as_text=True)
    assert victim_code not in answer
    assert _case_count(app) == 2


def test_the_code_stops_showing_after_the_confirmation_minutes(app, client):
    client.post("/raise", data=_filled_form(client))
    with app.app_context():
        minutes = app.config["CONFIRMATION_MINUTES"]
        db.session.execute(update(Submission).values(created_at=clock.utcnow() - timedelta(minutes=minutes + 1)))
        db.session.commit()
    page = client.get("/raise/sent").get_data(as_text=True)
    assert 'id="access-code"' not in page and "no longer shows the access code" in page
    assert 'id="case-reference"' not in page


def test_another_browser_cannot_open_the_confirmation(app, client):
    client.post("/raise", data=_filled_form(client))
    stranger = app.test_client()
    assert stranger.get("/raise/sent").status_code == 302


def test_two_sends_at_the_same_moment_raise_one_concern(app):
    """The double click: both requests race through raising; the unique row lets exactly one through."""
    sent = submissions.Sent(submissions.FORM, submissions.new_form_token())
    barrier = threading.Barrier(2)
    results: list[tuple[str, str | None]] = []

    def send() -> None:
        with app.app_context():
            concern = raising.check_concern({"what_happened": WORDS, "anonymity": "anonymous"})
            barrier.wait()
            try:
                raised = raising.raise_concern(concern, sent=sent)
                results.append(("raised", raised.access_code))
            except submissions.AlreadySent as exc:
                results.append(("already", present(exc.confirmation.answer, "answer").access_code))
            finally:
                db.session.remove()

    threads = [threading.Thread(target=send) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted(kind for kind, _ in results) == ["already", "raised"]
    assert results[0][1] == results[1][1]
    assert _case_count(app) == 1


def test_purge_forgets_form_codes_after_minutes_and_every_row_after_a_day(app, runner):
    with app.app_context():
        for kind, age in (
            ("form", timedelta(minutes=31)),
            ("api", timedelta(minutes=31)),
            ("api", timedelta(hours=25)),
        ):
            sent = submissions.Sent(kind, submissions.new_form_token())
            answer = submissions.Answer("SU-TEST", "CODE", "received", clock.utcnow().date())
            db.session.add(submissions.row_for(sent, answer, clock.utcnow() - age))
        db.session.commit()
    result = runner.invoke(args=["speakup", "sessions", "purge"])
    assert "1 records of raised concerns" in result.output
    with app.app_context():
        left = db.session.execute(select(Submission.kind, Submission.answer_ct)).all()
        assert sorted((kind, sealed is None) for kind, sealed in left) == [("api", False), ("form", True)]


# --- The API's Idempotency-Key --------------------------------------------------------------------


def _post(app, body: dict, key: str | None):
    headers = {"Idempotency-Key": key} if key is not None else {}
    return app.test_client(use_cookies=False).post("/api/v1/concerns", json=body, headers=headers)


def test_the_same_key_and_body_answer_with_the_same_concern(app):
    body = {"what_happened": WORDS, "anonymity": "anonymous"}
    key = "6f1c9f3e-2b8a-4c57-9d0e-8a1b2c3d4e5f"
    first, second = _post(app, body, key), _post(app, body, key)
    assert (first.status_code, second.status_code) == (201, 201)
    assert first.get_json() == second.get_json()
    assert "Idempotent-Replayed" not in first.headers and second.headers["Idempotent-Replayed"] == "true"
    assert reference_opened_by(app, second.get_json()["access_code"]) == first.get_json()["reference"]
    assert _case_count(app) == 1
    # Without a key, every request is a new concern (as before).
    _post(app, body, None), _post(app, body, None)
    assert _case_count(app) == 3


def test_the_same_key_with_another_body_is_refused(app):
    key = "a-random-key-of-enough-length-1234"
    assert _post(app, {"what_happened": WORDS, "anonymity": "anonymous"}, key).status_code == 201
    other = _post(app, {"what_happened": "Something else entirely", "anonymity": "anonymous"}, key)
    assert other.status_code == 409 and other.get_json()["error"]["code"] == "idempotency_key_reused"
    assert "access_code" not in other.get_data(as_text=True)
    assert _case_count(app) == 1


@pytest.mark.parametrize("key", ["short", "has spaces in it, sixteen+", "x" * 256, "é" * 20])
def test_a_key_that_is_not_random_looking_is_refused(app, key):
    answer = _post(app, {"what_happened": WORDS, "anonymity": "anonymous"}, key)
    assert answer.status_code == 422 and "Idempotency-Key" in answer.get_json()["error"]["fields"]
    assert _case_count(app) == 0


def test_the_openapi_document_describes_the_key(client):
    operation = client.get("/api/v1/openapi.json").get_json()["paths"]["/concerns"]["post"]
    assert [p["name"] for p in operation["parameters"]] == ["Idempotency-Key", "Accept-Language"]
    assert "Idempotent-Replayed" in operation["responses"]["201"]["headers"]
