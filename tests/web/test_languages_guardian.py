"""A guardian's pages in another language (issue 28): with a catalogue installed and the language chosen for the
visit, the queue's heading, a status's name, a plural count, a notice after an action and the national return's
headings are said in it. What is stored stays the English key, and the operator's command still writes English."""

from __future__ import annotations

from pathlib import Path
from typing import cast

import pytest
from flask import Flask
from flask.testing import FlaskClient
from support.casework import stored
from support.catalogues import directories_with, install_catalogue
from support.factories import gen_concern, gen_staff
from support.html import case_address, post_form, signed_in

from speakup.domain import quarters, workflow
from speakup.platform import clock
from speakup.reporting import national_return

ACKNOWLEDGE = ("<strong>%(count)s</strong> case to acknowledge", "<strong>%(count)s</strong> cases to acknowledge")
MESSAGES = {
    "Needs you now": "Bezonas vin nun",
    "Received": "Ricevita",
    "Note added.": "Noto aldonita.",
    ACKNOWLEDGE: ("<strong>%(count)s</strong> kazo agnoskenda", "<strong>%(count)s</strong> kazoj agnoskendaj"),
    "measure": "mezuro",
    "Cases raised": "Kazoj levitaj",
}


@pytest.fixture(scope="module")
def translations(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # A plural's id and its translations are pairs (babel's Catalog.add takes them so).
    return install_catalogue(tmp_path_factory.mktemp("translations"), "eo", cast(dict[str, str], MESSAGES))


@pytest.fixture
def app_overrides(translations: Path) -> dict[str, object]:
    return {"LANGUAGES": ["en", "eo"], "BABEL_TRANSLATION_DIRECTORIES": directories_with(translations)}


def _in_esperanto(app: Flask) -> FlaskClient:
    client = signed_in(app, gen_staff(app))
    assert client.get("/guardian/?language=eo").status_code == 303
    return client


def test_the_queue_says_its_heading_statuses_and_counts_in_the_language_chosen(app: Flask) -> None:
    client = _in_esperanto(app)
    gen_concern(client)
    page = client.get("/guardian/").get_data(as_text=True)
    assert "Bezonas vin nun" in page and "Needs you now" not in page
    assert "<strong>1</strong> kazo agnoskenda" in page
    assert ">Ricevita</strong>" in page and ">Received</strong>" not in page
    reference = gen_concern(client)["reference"]
    assert "<strong>2</strong> kazoj agnoskendaj" in client.get("/guardian/").get_data(as_text=True)
    assert stored(app, reference).status == workflow.RECEIVED  # the key, never the words shown for it


def test_a_notice_after_an_action_is_in_the_language_chosen(app: Flask) -> None:
    client = _in_esperanto(app)
    reference = gen_concern(client)["reference"]
    done = post_form(client, f"/guardian/cases/{reference}", f"/guardian/cases/{reference}/notes", note="Call HR")
    assert done.status_code == 303
    page = client.get(case_address(app, reference)).get_data(as_text=True)
    assert "Noto aldonita." in page and "Note added." not in page


def test_the_national_return_downloaded_from_the_page_is_headed_in_its_language_the_command_in_english(
    app: Flask,
) -> None:
    client = _in_esperanto(app)
    quarter = quarters.previous_quarter(clock.uk_today())
    download = client.get(f"/guardian/reports/national-return.csv?quarter={quarter.label}&version=submission")
    assert download.status_code == 200
    lines = download.get_data(as_text=True).splitlines()
    assert lines[0] == "mezuro,value" and lines[1] == "Kazoj levitaj,0"
    with app.app_context():  # no request: the operator's command, in English, and a status's label too
        assert national_return.return_csv(quarter, national_return.SUBMISSION).splitlines()[:2] == [
            "measure,value",
            "Cases raised,0",
        ]
        assert str(workflow.GUARDIAN_LABELS[workflow.RECEIVED]) == "Received"
