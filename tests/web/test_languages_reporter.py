"""The reporter's pages in the language the visit chose (issue 28): a heading, a field error from a failed raise, a
flash notice and a plural are each looked up in the catalogue, once the person chose the language by the chooser
link; English stays the default for everyone else."""

from __future__ import annotations

from pathlib import Path

import pytest
from babel.messages.mofile import read_mo, write_mo
from flask import Flask
from flask.testing import FlaskClient
from support.apps import make_app
from support.catalogues import directories_with, install_catalogue
from support.html import CSRF_RE, SUBMISSION_RE

from speakup.web import once

HEADING = "Raise a concern"
FIELD_ERROR = "Tell us what happened"
# The character count under "What happened?": a {% pluralize %} block, so its msgid is the singular and the plural.
PLURAL = ("You can enter up to %(number)s character", "You can enter up to %(number)s characters")

ESPERANTO = {
    HEADING: "Levu zorgon",
    FIELD_ERROR: "Rakontu al ni kio okazis",
    str(once.REFUSED): "Tiu paĝo estis malnova, do nenio estis sendita.",
    "There is a problem": "Estas problemo",
}


@pytest.fixture
def esperanto(database_url: str, tmp_path: Path) -> Flask:
    folder = install_catalogue(tmp_path / "translations", "eo", ESPERANTO)
    # A plural entry is a pair of msgids and a pair of translations, which the shared helper does not make.
    mo = folder / "eo" / "LC_MESSAGES" / "messages.mo"
    with mo.open("rb") as existing:
        catalog = read_mo(existing)
    catalog.add(PLURAL, ("Vi povas skribi ĝis %(number)s signon", "Vi povas skribi ĝis %(number)s signojn"))
    with mo.open("wb") as out:
        write_mo(out, catalog)
    return make_app(database_url, LANGUAGES=["en", "eo"], BABEL_TRANSLATION_DIRECTORIES=directories_with(folder))


def _choose(client: FlaskClient, path: str) -> str:
    """Esperanto chosen by the chooser link on ``path``, as a person would; the page again, in it."""
    chosen = client.get(f"{path}?language=eo")
    assert (chosen.status_code, chosen.headers["Location"]) == (303, path)
    return client.get(path).get_data(as_text=True)


def test_the_raise_form_its_errors_and_a_notice_are_in_the_chosen_language(esperanto: Flask) -> None:
    client = esperanto.test_client()
    limit = f"{esperanto.config['MAX_CONCERN_CHARS']:,}"
    english = client.get("/raise").get_data(as_text=True)
    assert f"<h1>{HEADING}</h1>" in english and f"You can enter up to {limit} characters" in english

    page = _choose(client, "/raise")
    assert "<h1>Levu zorgon</h1>" in page and HEADING not in page
    assert f"Vi povas skribi ĝis {limit} signojn" in page  # the plural form, with the number put in

    # Sent with nothing in it: back to the form, the field's error and the summary in Esperanto.
    token, submission = CSRF_RE.search(page), SUBMISSION_RE.search(page)
    assert token and submission
    data = {"csrf_token": token.group(1), "submission": submission.group(1), "step": "check", "anonymity": "anonymous"}
    failed = client.post("/raise", data=data, follow_redirects=True).get_data(as_text=True)
    assert "Rakontu al ni kio okazis" in failed and FIELD_ERROR not in failed
    assert "Estas problemo" in failed

    # A form whose token is not this browser's is refused: the flash notice that says so is in Esperanto too.
    stale = {**data, "csrf_token": "not-this-browsers"}
    refused = client.post("/raise", data=stale, follow_redirects=True).get_data(as_text=True)
    assert "Tiu paĝo estis malnova, do nenio estis sendita." in refused and str(once.REFUSED) not in refused

    # Another visit starts in English.
    assert f"<h1>{HEADING}</h1>" in esperanto.test_client().get("/raise").get_data(as_text=True)
