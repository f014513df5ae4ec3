"""The reporter's case page laid out for them (issue 26, point 7): a banner at the top for the guardian's messages
they have not seen yet, linking to the first of them; "Sign out" in the header; once the case is closed, one form
with one button for every question, in the person's words ("treated worse", never "detriment"), its error summary at
the top of the page."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from support.factories import gen_concern
from support.html import post_form, walk_to
from support.present import scalar

from speakup.platform import clock
from speakup.platform.models import Case, db

BANNER = re.compile(r'id="new-messages".*?You have (\d+) new messages? from the guardian', re.S)


def _reporter(app: Flask, code: str) -> FlaskClient:
    reporter = app.test_client()
    assert post_form(reporter, "/follow-up", access_code=code).status_code == 303
    return reporter


def _guardian_writes(signed: FlaskClient, reference: str, body: str) -> None:
    url = f"/guardian/cases/{reference}"
    assert post_form(signed, url, f"{url}/messages", body=body).status_code == 303


def _case_page(reporter: FlaskClient) -> str:
    return reporter.get("/follow-up/case").get_data(as_text=True)


def _banner_count(page: str) -> int | None:
    match = BANNER.search(page)
    return int(match.group(1)) if match else None


def test_new_guardian_messages_are_announced_at_the_top_until_seen(app, signed):
    raised = gen_concern(signed)
    reporter = _reporter(app, raised["access_code"])
    assert _banner_count(_case_page(reporter)) is None
    _guardian_writes(signed, raised["reference"], "Thank you for telling us.")
    _guardian_writes(signed, raised["reference"], "Could you tell us which ward?")
    page = _case_page(reporter)
    assert _banner_count(page) == 2
    # At the top of the page, before its heading, and linking to the first new message.
    assert page.index('id="new-messages"') < page.index("<h1>Your concern</h1>")
    assert 'href="#first-new-message"' in page
    first = page.split('id="first-new-message"')[1]
    assert "Thank you for telling us." in first.split("</li>")[0]
    # Seen once: the banner goes.
    assert _banner_count(_case_page(reporter)) is None
    _guardian_writes(signed, raised["reference"], "One more thing.")
    page = _case_page(reporter)
    assert _banner_count(page) == 1 and "You have 1 new message from the guardian" in page
    assert "One more thing." in page.split('id="first-new-message"')[1].split("</li>")[0]


def test_seen_messages_stay_seen_after_signing_in_again(app, signed):
    raised = gen_concern(signed)
    _guardian_writes(signed, raised["reference"], "Thank you for telling us.")
    assert _banner_count(_case_page(_reporter(app, raised["access_code"]))) == 1
    assert _banner_count(_case_page(_reporter(app, raised["access_code"]))) is None


def test_the_reporters_own_messages_are_not_announced(app, signed):
    raised = gen_concern(signed)
    reporter = _reporter(app, raised["access_code"])
    post_form(reporter, "/follow-up/case", "/follow-up/case/messages", body="More detail: it happened twice")
    page = _case_page(reporter)
    assert _banner_count(page) is None and 'id="new-messages"' not in page


def test_sign_out_is_in_the_header(app, signed):
    raised = gen_concern(signed)
    page = _case_page(_reporter(app, raised["access_code"]))
    header = page.split("</header>")[0]
    assert 'id="sign-out-form"' in header and 'action="/follow-up/sign-out"' in header
    assert '>Sign out<span class="nhsuk-u-visually-hidden"> of this concern</span></button>' in header


def _closed_days_ago(app: Flask, signed: FlaskClient, days: int) -> dict:
    raised = gen_concern(signed)
    walk_to(signed, raised["reference"], "acknowledged", "closed")
    with app.app_context():
        case = scalar(select(Case).where(Case.reference == raised["reference"]))
        case.closed_at = clock.utcnow() - timedelta(days=days)
        db.session.commit()
    return raised


def _stored(app: Flask, reference: str) -> tuple[object, ...]:
    with app.app_context():
        case = scalar(select(Case).where(Case.reference == reference))
        return (case.speak_up_again, case.detriment_reported, case.detriment_after_closure, case.check_ins_answered)


def _visible_words(page: str) -> str:
    return re.sub(r"<[^>]+>", " ", page)


def test_after_closing_one_form_with_one_button_keeps_both_answers(app, signed):
    raised = _closed_days_ago(app, signed, 91)  # the feedback not given, and the first check-in due
    reporter = _reporter(app, raised["access_code"])
    page = _case_page(reporter)
    form = page.split('id="after-closing"')[1].split("</form>")[0]
    assert page.count('action="/follow-up/case/feedback"') == 1 and "/follow-up/case/check-in" not in page
    assert form.count('type="submit"') == 1
    assert "Given your experience, would you speak up again?" in form
    assert "Since your case was closed, have you been treated worse because you spoke up?" in form
    assert form.count("treated worse") == 1  # one question about it, not two
    answered = post_form(reporter, "/follow-up/case", "/follow-up/case/feedback", speak_up_again="maybe",
                         since_closing="yes")  # fmt: skip
    assert answered.status_code == 303
    assert _stored(app, raised["reference"]) == ("maybe", None, True, 1)
    assert 'id="after-closing"' not in _case_page(reporter)


def test_after_closing_a_missing_answer_is_refused_by_its_field_with_the_summary_at_the_top(app, signed):
    raised = _closed_days_ago(app, signed, 91)
    reporter = _reporter(app, raised["access_code"])
    refused = post_form(reporter, "/follow-up/case", "/follow-up/case/feedback", speak_up_again="yes")
    page = reporter.get(refused.location).get_data(as_text=True)
    summary = page.split('class="nhsuk-error-summary"')[1].split("</div>\n</div>")[0]
    assert '<a href="#since_closing">Answer yes or no</a>' in summary
    assert page.index('class="nhsuk-error-summary"') < page.index("<h1>Your concern</h1>")
    assert 'id="since_closing-error"' in page and 'id="speak_up_again-error"' not in page
    assert 'id="speak_up_again" name="speak_up_again" type="radio" value="yes" checked' in page  # kept
    assert _stored(app, raised["reference"]) == (None, None, None, 0)  # neither answer kept


def test_just_closed_the_treated_worse_question_is_the_feedbacks_and_optional(app, signed):
    raised = _closed_days_ago(app, signed, 1)
    reporter = _reporter(app, raised["access_code"])
    form = _case_page(reporter).split('id="after-closing"')[1].split("</form>")[0]
    assert "Have you been treated worse because you spoke up? (optional)" in form
    post_form(reporter, "/follow-up/case", "/follow-up/case/feedback", speak_up_again="yes", detriment="no")
    assert _stored(app, raised["reference"]) == ("yes", False, None, 0)


@pytest.mark.parametrize("days", [1, 91])
def test_reporter_pages_never_say_detriment(app, signed, days):
    raised = _closed_days_ago(app, signed, days)
    reporter = _reporter(app, raised["access_code"])
    assert "detriment" not in _visible_words(_case_page(reporter)).lower()
    refused = post_form(reporter, "/follow-up/case", "/follow-up/case/feedback", speak_up_again="")
    assert "detriment" not in _visible_words(reporter.get(refused.location).get_data(as_text=True)).lower()


def test_seeing_the_messages_changes_no_version_and_keeps_only_a_count(app, signed):
    """The seen count is written beside the case, not as a change to it: a guardian's form open on the case is not
    refused as out of date because the person read their messages."""
    raised = gen_concern(signed)
    _guardian_writes(signed, raised["reference"], "Thank you for telling us.")
    with app.app_context():
        before = scalar(select(Case).where(Case.reference == raised["reference"]))
        version, updated = before.version, before.updated_at
    assert _banner_count(_case_page(_reporter(app, raised["access_code"]))) == 1
    with app.app_context():
        after = scalar(select(Case).where(Case.reference == raised["reference"]))
        assert (after.version, after.updated_at, after.reporter_seen_guardian_messages) == (version, updated, 1)
