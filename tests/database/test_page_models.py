"""The page models and the domain calls the pages make instead of reaching keys, crypto or the app's config:
what each returns, called directly, as the views call them."""

from __future__ import annotations

import dataclasses

import pytest
from support.factories import PASSWORD, gen_concern, gen_staff
from support.present import get_row, present

from speakup.crypto import access_codes
from speakup.domain import browser_sessions, case_pages, references, sharing, team
from speakup.keys import account_keys
from speakup.platform.config import Settings, settings
from speakup.platform.models import User
from speakup.reporting import board


def _keys(user_id: int) -> account_keys.AccountKeys:
    return account_keys.unlock_account(get_row(User, user_id), PASSWORD).keys


def test_settings_are_the_apps_config_as_it_is_now_typed_and_frozen(app):
    with app.app_context():
        assert settings().max_message_chars == app.config["MAX_MESSAGE_CHARS"]
        assert settings().token_pepper == app.config["TOKEN_PEPPER_BYTES"]
        app.config["MAX_MESSAGE_CHARS"] = 5  # a setting changed on a running app is never read stale
        assert settings().max_message_chars == 5
        with pytest.raises(dataclasses.FrozenInstanceError):
            settings().max_message_chars = 6  # type: ignore[misc]
        assert settings().deadline_config == {
            key: app.config[key] for key in ("DEADLINE_RULES", "SCOTLAND_STAGE", "ACK_DAYS", "FEEDBACK_DAYS")
        }
        assert isinstance(settings(), Settings)


def test_a_guardian_opens_a_case_at_its_address_and_nobody_else_tells_it_from_a_missing_one(app, client):
    first = gen_staff(app)
    second = gen_staff(app, "second@example.org", name="Sam Second")
    raised = gen_concern(client)
    with app.app_context():
        case = present(references.case_by_reference(raised["reference"]), "case")
        opened = references.case_opened_at(str(case.id), first.id, _keys(first.id).private_key)
        assert opened is not None and opened[0].id == case.id
        page = case_pages.guardian_case_page(*opened, first.id)
        assert page.case.reference == raised["reference"] and page.labels and page.outcomes
        assert page.share_choices == {}  # both guardians were on the roster when it was raised: both hold it
        assert references.case_opened_at("999999", second.id, _keys(second.id).private_key) is None
        reporter = case_pages.reporter_case_page(*browser_sessions.check_access_code(raised["access_code"]))
        assert reporter.case.reference == raised["reference"] and reporter.about_asked


def test_the_access_code_check_says_which_refusal(app, client):
    raised = gen_concern(client)
    with app.app_context():
        reasons = []
        for typed in ("  ", "not a code", access_codes.new_access_code()):  # the last well formed, opening nothing
            with pytest.raises(browser_sessions.AccessCodeRefused) as refused:
                browser_sessions.check_access_code(typed)
            reasons.append(refused.value.reason)
        assert reasons == [browser_sessions.EMPTY, browser_sessions.MISTYPED, browser_sessions.NOT_FOUND]
        case, case_key = browser_sessions.check_access_code(raised["access_code"])
        session_id, cookie_key = browser_sessions.start_reporter_session(case, case_key)
        assert browser_sessions.resume_reporter_session(session_id, cookie_key) == (case, case_key)
        with pytest.raises(browser_sessions.SessionExpired):
            browser_sessions.resume_reporter_session(session_id, "not base64!")


def test_sharing_from_the_case_page_says_what_was_done_or_why_not(app, client):
    me = gen_staff(app)
    raised = gen_concern(client)
    other = gen_staff(app, "new@example.org", name="Nia New")  # approved after the concern: holds no key yet
    with app.app_context():
        user = get_row(User, me.id)
        case = present(references.case_by_reference(raised["reference"]), "case")
        case, case_key = present(references.case_opened_at(str(case.id), me.id, _keys(me.id).private_key), "case")
        with pytest.raises(sharing.ShareRefused, match="Choose a guardian") as refused:
            sharing.share_from_case_page(case, case_key, None, user, False)
        assert not refused.value.offer_override
        assert sharing.share_from_case_page(case, case_key, other.id, user, False) == "Shared with Nia New."
        with pytest.raises(sharing.ShareRefused, match="Nia New can already open this case"):
            sharing.share_from_case_page(case, case_key, other.id, user, False)
        assert team.on_roster(other.id) and team.safety_code_held(_keys(other.id))


def test_the_board_page_counts_from_its_first_quarters_first_day(app):
    guardian = gen_staff(app)
    with app.app_context():
        page = board.board_page(guardian.id, _keys(guardian.id).private_key)
        first = page.report.quarters[0]
        assert first.label == first.quarter.heading == f"{first.quarter.year} Q{first.quarter.number}"
        assert len(page.report.quarters) == board.QUARTERS_SHOWN and page.learning == {}
