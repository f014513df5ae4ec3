"""Issue 24, point 2: signing out forgets everything. On a shared ward computer the next person must find nothing
of the last: every way out (a guardian's "Sign out", "Sign out of this concern", "I have saved my access code", a
follow-up session that timed out) forgets the browser's whole session, the confirmation slot included, and asks the
browser to drop what it keeps for the site. And no refused form is ever shown again with what was typed in it."""

from __future__ import annotations

import html

from sqlalchemy import select, update
from support.factories import gen_staff, reference_opened_by
from support.html import ACCESS_CODE_RE, CSRF_RE, SUBMISSION_RE, AuthActions, post_form
from support.present import found

from speakup.platform import clock
from speakup.platform.models import ReporterSession, Submission, db

WORDS = "The controlled drugs register on ward 6 was signed by someone who was not on shift."


def _raise_on_the_form(client) -> str:
    """Raises a concern on the page, as the person would, and returns the access code the confirmation shows."""
    page = client.get("/raise").get_data(as_text=True)
    form = {"csrf_token": found(CSRF_RE, page), "submission": found(SUBMISSION_RE, page),
            "what_happened": WORDS, "anonymity": "anonymous"}  # fmt: skip
    assert client.post("/raise", data=form).status_code == 303
    return html.unescape(found(ACCESS_CODE_RE, client.get("/raise/sent").get_data(as_text=True)))


def _codes_kept(app) -> int:
    with app.app_context():
        return len([row for row in db.session.scalars(select(Submission)) if row.answer_ct is not None])


def test_signing_out_of_the_concern_also_forgets_the_confirmation(app, client):
    """The review's finding: after "Sign out of this concern", /raise/sent still showed the whole access code."""
    code = _raise_on_the_form(client)
    assert post_form(client, "/follow-up", access_code=code).status_code == 303
    signed_out = post_form(client, "/follow-up/case", "/follow-up/sign-out")
    assert signed_out.status_code == 303 and signed_out.headers["Clear-Site-Data"] == '"cache", "storage"'
    assert "You have signed out of your concern" in client.get(signed_out.location).get_data(as_text=True)
    after = client.get("/raise/sent")
    assert after.status_code == 302 and code not in after.get_data(as_text=True)
    assert _codes_kept(app) == 0  # and the server no longer keeps it to show
    assert client.get("/follow-up/case").status_code == 302  # the concern is closed to this browser


def test_saving_the_code_forgets_the_whole_session(app, client):
    code = _raise_on_the_form(client)
    assert post_form(client, "/follow-up", access_code=code).status_code == 303  # also following it up here
    saved = post_form(client, "/raise/sent/hide", "/raise/sent")  # "Yes, hide my code"
    assert saved.status_code == 303 and saved.headers["Clear-Site-Data"] == '"cache", "storage"'
    assert client.get("/follow-up/case").status_code == 302
    assert client.get("/raise/sent").status_code == 302 and _codes_kept(app) == 0


def test_a_follow_up_session_that_timed_out_forgets_the_confirmation_too(app, client):
    code = _raise_on_the_form(client)
    assert post_form(client, "/follow-up", access_code=code).status_code == 303
    with app.app_context():
        db.session.execute(update(ReporterSession).values(last_seen_at=clock.utcnow().replace(year=2000)))
        db.session.commit()
    timed_out = client.get("/follow-up/case")
    assert timed_out.status_code == 302  # timed out
    assert timed_out.headers["Clear-Site-Data"] == '"cache", "storage"'  # review finding F5: as at sign-out
    assert client.get("/raise/sent").status_code == 302 and _codes_kept(app) == 0


def test_a_guardians_sign_out_asks_the_browser_to_drop_what_it_keeps(app, client):
    gita = gen_staff(app, email="gita@example.org", name="Gita Guardian")
    assert AuthActions(client).sign_in(gita).status_code == 303
    signed_out = post_form(client, "/guardian/", "/guardian/sign-out")
    assert signed_out.status_code == 303 and signed_out.headers["Clear-Site-Data"] == '"cache", "storage"'
    assert client.get("/guardian/").status_code == 302


def test_a_recorded_concern_replayed_after_the_guardian_signed_out_is_not_shown_again(app, client):
    """The review's finding: Back and Reload on "Concern recorded" after sign-out echoed every field."""
    gita = gen_staff(app, email="gita@example.org", name="Gita Guardian")
    assert AuthActions(client).sign_in(gita).status_code == 303
    token = found(CSRF_RE, client.get("/guardian/record").get_data(as_text=True))
    body = {"csrf_token": token, "channel": "in_person", "what_happened": WORDS, "anonymity": "confidential",
            "name": "Jane Doe-Whistleblower"}  # fmt: skip
    post_form(client, "/guardian/", "/guardian/sign-out")
    for cookies in ("kept", "none"):
        browser = client if cookies == "kept" else app.test_client()
        replayed = browser.post("/guardian/record", data=body)
        assert replayed.status_code == 303, cookies
        for page in (replayed, browser.get(replayed.location, follow_redirects=True)):
            text = page.get_data(as_text=True)
            assert WORDS not in text and "Jane Doe-Whistleblower" not in text, cookies


def test_nothing_in_history_names_a_case(app, client):
    """The review's finding: a guardian's ?next=/guardian/cases/SU-... after a time-out, and page titles, named the
    case in the browser's History."""
    gita = gen_staff(app, email="gita@example.org", name="Gita Guardian")
    code = _raise_on_the_form(client)
    reference = reference_opened_by(app, code)
    gone = app.test_client().get(f"/guardian/cases/{reference}")
    assert gone.status_code == 302 and gone.headers["Location"] == "/guardian/sign-in"
    signed_in = app.test_client()
    assert AuthActions(signed_in).sign_in(gita).status_code == 303
    reporter = app.test_client()
    assert post_form(reporter, "/follow-up", access_code=code).status_code == 303
    for page in (signed_in.get(f"/guardian/cases/{reference}"), reporter.get("/follow-up/case")):
        text = page.get_data(as_text=True)
        assert page.status_code == 200 and reference not in text[text.index("<title>") : text.index("</title>")]


def test_a_guardians_sign_out_forgets_the_code_of_a_concern_they_recorded(app, client):
    """The recorded concern's code, sealed for the guardian's session to hand over, goes at sign-out too."""
    gita = gen_staff(app, email="gita@example.org", name="Gita Guardian")
    assert AuthActions(client).sign_in(gita).status_code == 303
    recorded = post_form(client, "/guardian/record", channel="in_person", what_happened=WORDS, anonymity="anonymous",
                         give_access_code="yes")  # fmt: skip
    assert recorded.status_code == 303
    assert 'id="access-code"' in client.get(recorded.location).get_data(as_text=True)
    assert _codes_kept(app) == 1
    post_form(client, "/guardian/", "/guardian/sign-out")
    assert _codes_kept(app) == 0
