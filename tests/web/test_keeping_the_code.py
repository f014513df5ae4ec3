"""Issue 26, point 2: the access code is hard to lose. The confirmation shows it on a slip with the follow-up
address, with Copy and Print beside it (shown by the script), and advice that is safe on a shared ward computer;
"I have saved my access code" asks first, and only "Yes, hide my code" hides it, once, however often it is sent."""

from __future__ import annotations

import html
import re

from sqlalchemy import select
from support.factories import gen_staff
from support.html import ACCESS_CODE_RE, CSRF_RE, AuthActions, post_form, send_raise_form
from support.present import found

from speakup.platform.models import Submission, db

WORDS = "The bed rails on ward 11 were reported broken three times and nothing was done."
HIDE_PAGE = "/raise/sent/hide"


def _raised(client) -> tuple[str, str]:
    """A concern raised on the form; the confirmation page and the access code it shows."""
    page = send_raise_form(client, what_happened=WORDS, anonymity="anonymous").get_data(as_text=True)
    return page, html.unescape(found(ACCESS_CODE_RE, page))


def _codes_kept(app) -> int:
    with app.app_context():
        return len([row for row in db.session.scalars(select(Submission)) if row.answer_ct is not None])


def _visible_text(page: str) -> str:
    main = page.split("<main", 1)[1].split("</main>", 1)[0]
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", main)).split())


def test_the_code_is_on_a_slip_with_the_follow_up_address_and_copy_and_print_beside_it(app, client):
    page, code = _raised(client)
    slip = page.split('id="access-code-slip"', 1)[1].split("</div>", 1)[0]
    assert code in slip and app.config["PUBLIC_BASE_URL"].rstrip("/") + "/follow-up" in slip
    assert WORDS not in slip and "SU-" not in slip  # nothing about the concern, not even its reference
    # The controls are in the page for the script to show; without it they stay hidden (nothing that cannot work).
    actions = page.split('data-speakup-code-actions="access-code"', 1)[1].split("</div>", 1)[0]
    assert re.search(r"<button[^>]*data-speakup-copy[^>]*>\s*Copy", actions)
    assert re.search(r"<button[^>]*data-speakup-print[^>]*>\s*Print", actions)
    assert re.search(r'<div[^>]*data-speakup-code-actions="access-code"[^>]*\shidden', page)
    assert "<script" not in page.split("</head>", 1)[1]  # no inline script: the CSP allows only 'self'


def test_the_advice_is_safe_on_a_shared_computer(client):
    text = _visible_text(_raised(client)[0])
    assert "Write it on paper or keep it on your own phone" in text
    assert "not on this computer or in your work email" in text
    assert "save it" not in text.lower()


def test_hiding_the_code_asks_first_and_the_first_step_alone_leaves_it_shown(app, client):
    page, code = _raised(client)
    # The button is a link to the question: nothing is sent by it, so nothing can hide the code by accident.
    assert 'action="/raise/sent"' not in page
    assert re.search(r'<a[^>]*href="/raise/sent/hide"[^>]*>I have saved my access code</a>', page)
    asked = client.get(HIDE_PAGE)
    question = asked.get_data(as_text=True)
    assert asked.status_code == 200 and "Yes, hide my code" in question
    assert code not in question and asked.headers["Cache-Control"] == "no-store"
    # Only asked: the code is still shown and kept.
    assert code in client.get("/raise/sent").get_data(as_text=True) and _codes_kept(app) == 1
    hidden = post_form(client, HIDE_PAGE, "/raise/sent")
    assert hidden.status_code == 303 and hidden.location == "/raise/done"
    assert hidden.headers["Clear-Site-Data"] == '"cache", "storage"'
    assert client.get("/raise/sent").status_code == 302 and _codes_kept(app) == 0


def test_sending_yes_again_is_safe(app, client):
    _page, code = _raised(client)
    form = {"csrf_token": found(CSRF_RE, client.get(HIDE_PAGE).get_data(as_text=True))}
    assert client.post("/raise/sent", data=form).location == "/raise/done"
    again = client.post("/raise/sent", data=form, follow_redirects=True)  # Reload, Back and send, a double click
    assert again.history[0].status_code == 303  # answered with a redirect, never a page
    shown = again.get_data(as_text=True)
    assert again.status_code == 200 and code not in shown and 'id="access-code"' not in shown
    assert _codes_kept(app) == 0


def test_the_question_without_a_code_to_hide_goes_back_to_the_confirmation(client):
    assert client.get(HIDE_PAGE).status_code == 302  # this browser raised nothing
    _raised(client)
    assert post_form(client, HIDE_PAGE, "/raise/sent").status_code == 303
    assert client.get(HIDE_PAGE).status_code == 302  # hidden: nothing left to ask about


def test_the_guardians_slip_has_print_and_copy(app, client):
    gita = gen_staff(app, email="gita@example.org", name="Gita Guardian")
    AuthActions(client).signed_in(gita)
    recorded = post_form(client, "/guardian/record", what_happened=WORDS, channel="in_person", anonymity="anonymous",
                         give_access_code="yes")  # fmt: skip
    page = client.get(recorded.location).get_data(as_text=True)
    assert 'id="access-code-slip"' in page, page
    assert 'data-speakup-code-actions="access-code"' in page and "data-speakup-print" in page
