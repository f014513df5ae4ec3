"""A new concern gets the deadlines of the organisation's rules (DEADLINE_RULES), and a rule that does not exist
stops the app from starting."""

from __future__ import annotations

from datetime import date

import pytest
from support.apps import TEST_CONFIG
from support.factories import gen_concern

from speakup import ConfigurationError, create_app
from speakup.domain import deadlines
from speakup.platform import clock


@pytest.fixture
def app_overrides() -> dict[str, object]:
    return {"DEADLINE_RULES": "scotland"}


def test_a_concern_raised_in_scotland_counts_working_days(app, client):
    raised = gen_concern(client)
    uk_today = clock.uk_today()
    assert date.fromisoformat(raised["acknowledge_by"]) == deadlines.working_days_after(uk_today, 3, "SCT")


@pytest.mark.parametrize("settings", [{"DEADLINE_RULES": "wales"}, {"DEADLINE_RULES": "scotland", "SCOTLAND_STAGE": 3}])
def test_rules_that_do_not_exist_stop_the_app(settings):
    with pytest.raises(ConfigurationError, match="SPEAKUP_DEADLINE_RULES must be england, eu or scotland"):
        create_app({**TEST_CONFIG, **settings})
