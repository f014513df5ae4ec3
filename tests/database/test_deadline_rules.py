"""A new concern gets the deadlines of the organisation's rules (DEADLINE_RULES), each rule names its source and the
pages name the framework it follows, and a rule that does not exist stops the app from starting."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from support.apps import TEST_CONFIG
from support.factories import gen_concern
from support.html import reporter_case_page

from speakup import ConfigurationError, create_app
from speakup.domain import deadlines
from speakup.platform import clock


@pytest.fixture
def app_overrides(request) -> dict[str, object]:
    return {"DEADLINE_RULES": getattr(request, "param", "scotland"), "ACK_DAYS": 5, "FEEDBACK_DAYS": 60}


def test_a_concern_raised_in_scotland_counts_working_days(app, client):
    raised = gen_concern(client)
    uk_today = clock.uk_today()
    assert date.fromisoformat(raised["acknowledge_by"]) == deadlines.working_days_after(uk_today, 3, "SCT")


@pytest.mark.parametrize("app_overrides", ["wales"], indirect=True)
def test_wales_counts_the_days_the_trust_set_and_names_its_framework(app, client, signed):
    """The Speaking up Safely framework for NHS Wales (2023) sets no days of its own: the trust's ACK_DAYS and
    FEEDBACK_DAYS, England's defaults until it sets them, counted as England counts them."""
    raised = gen_concern(client)
    uk_today = clock.uk_today()
    assert date.fromisoformat(raised["acknowledge_by"]) == uk_today + timedelta(days=5)
    # Under the Welsh rules the pages start in Welsh (issue 29, point 3), naming the framework in Welsh.
    framework = "Fframwaith Siarad yn Ddiogel GIG Cymru"
    page = signed.get(f"/guardian/cases/{raised['reference']}").get_data(as_text=True)
    assert framework in page and '<html lang="cy"' in page
    assert framework in reporter_case_page(client.application, raised["access_code"])


@pytest.mark.parametrize("rules", deadlines.RULES)
def test_every_rule_names_its_source_document_and_the_framework_the_pages_name(rules):
    source = deadlines.RULE_SETS[rules]
    assert source.framework and source.document and source.section, rules
    assert set(deadlines.RULE_SETS) == set(deadlines.RULES)


def test_no_rule_is_attributed_to_the_national_guardians_office():
    """Issue 29, point 4: 7 and 90 days were called the NGO's guidance; they are this service's defaults."""
    import inspect

    text = inspect.getsource(deadlines)
    assert "National Guardian" not in text
    assert "Directive (EU) 2019/1937" in deadlines.RULE_SETS["eu"].document


@pytest.mark.parametrize(
    "settings", [{"DEADLINE_RULES": "northern_ireland"}, {"DEADLINE_RULES": "scotland", "SCOTLAND_STAGE": 3}]
)
def test_rules_that_do_not_exist_stop_the_app(settings):
    with pytest.raises(ConfigurationError, match="SPEAKUP_DEADLINE_RULES must be england, eu, scotland or wales"):
        create_app({**TEST_CONFIG, **settings})


def test_under_the_welsh_rules_welsh_is_offered_first_unless_the_trust_chose(database_url, tmp_path):
    """Issue 29, point 3: a trust following the Speaking up Safely framework starts every visit in Welsh once the Welsh
    catalogue is installed; a trust that sets DEFAULT_LANGUAGE itself is followed; elsewhere English comes first."""
    from support.apps import make_app
    from support.catalogues import directories_with, install_catalogue

    folders = directories_with(install_catalogue(tmp_path / "translations", "cy", {"Language": "Iaith"}))

    def first(**settings: object) -> str:
        app = make_app(database_url, BABEL_TRANSLATION_DIRECTORIES=folders, **settings)
        return app.config["LANGUAGES_OFFERED"][0].code

    assert first(DEADLINE_RULES="wales") == "cy"
    assert first(DEADLINE_RULES="wales", DEFAULT_LANGUAGE="en") == "en"
    assert first(DEADLINE_RULES="england") == "en"
    assert first(DEADLINE_RULES="england", DEFAULT_LANGUAGE="cy") == "cy"
    assert first(DEADLINE_RULES="wales", LANGUAGES=["en"]) == "en"  # Welsh not offered: not its default either
