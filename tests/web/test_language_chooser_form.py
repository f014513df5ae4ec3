"""The language chooser is a form of its own, posted to the page's own address (outside review r7b, F1): no address a
browser visits names the language chosen, so History (which keeps a redirect's source too) cannot tell the next
person at a shared computer that someone read the service in Urdu. Its POST records the choice and answers 303 with
the page: on every page (one with no form, one with its own POST view at the same address, an error page), for a
browser that had no session before the page, without sending or spending the page's own form or counting against a
rate limit. And on a page whose form keeps typed words, Enter in a one-line field sends nothing rather than pressing
the first language button (F4)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from support.apps import install_organisation_keys, make_app
from support.catalogues import directories_with, install_catalogue
from support.factories import gen_concern, gen_staff
from support.html import CSRF_RE, following_up
from support.present import found
from werkzeug.test import TestResponse

from speakup.platform.models import db

CHOOSER_RE = re.compile(r'<form[^>]*class="speakup-languages__form"[^>]*>.*?</form>', re.S)
TOKEN_RE = re.compile(r'name="language_token" value="([^"]+)"')
LANG_RE = re.compile(r'<html lang="([^"]+)"')
# A reporter's page, one with its own POST view, a staff page with one, a 404 and a 405 page, a page with a query.
PAGES = ("/", "/accessibility", "/follow-up", "/guardian/sign-in", "/no-such-page", "/guardian/sign-out", "/?x=1")


@pytest.fixture
def esperanto(database_url: str, tmp_path: Path) -> Flask:
    folder = install_catalogue(tmp_path / "translations", "eo", {"Language": "Lingvo"})
    app = make_app(database_url, LANGUAGES=["en", "eo"], BABEL_TRANSLATION_DIRECTORIES=directories_with(folder),
                   ACCESS_CODE_RATE_LIMIT="2 per minute", SIGN_IN_RATE_LIMIT="2 per minute")  # fmt: skip
    install_organisation_keys(app)
    return app


def choose(client: FlaskClient, path: str, code: str) -> TestResponse:
    """The page at ``path`` opened, and its chooser's button for ``code`` pressed, as a browser sends it."""
    page = client.get(path).get_data(as_text=True)
    chooser = found(CHOOSER_RE, page, group=0)
    assert f'name="language" value="{code}"' in chooser
    # The form has no action: the browser posts it to the address it shows.
    return client.post(path, data={"language_token": found(TOKEN_RE, chooser), "language": code})


def _every_row(app: Flask) -> dict[str, list[tuple[object, ...]]]:
    with app.app_context(), db.engine.connect() as connection:
        return {
            table.name: [tuple(row) for row in connection.execute(select(table))] for table in db.metadata.sorted_tables
        }


def test_no_page_links_to_a_language(esperanto: Flask) -> None:
    """The chooser is a form posted to the page itself (it has no action, so a page never writes its own address,
    which may hold a case's reference): buttons named ``language``, no link anywhere whose address carries it
    (tests/web/test_pseudo_locale.py checks every page the app routes)."""
    for path in PAGES:
        page = esperanto.test_client().get(path).get_data(as_text=True)
        assert not re.search(r'href="[^"]*language=', page), path
        chooser = found(CHOOSER_RE, page, group=0)
        assert 'method="post"' in chooser, path
        assert re.search(r'<button[^>]*type="submit"[^>]*name="language" value="eo" lang="eo"[^>]*>Esperanto</button>',
                         chooser), path  # fmt: skip
        assert "action=" not in found(r"(<form[^>]*>)", chooser), path


@pytest.mark.parametrize("path", PAGES)
def test_choosing_leaves_the_language_in_no_address(esperanto: Flask, path: str) -> None:
    client = esperanto.test_client()  # no session before the page
    chosen = choose(client, path, "eo")
    assert chosen.status_code == 303 and "language" not in chosen.location and "eo" not in chosen.location
    assert chosen.location == path
    after = client.get(chosen.location)
    assert LANG_RE.search(after.get_data(as_text=True)).group(1) == "eo", path  # type: ignore[union-attr]
    assert "language" not in after.request.url
    # And back again, from the page now in the chosen language.
    assert choose(client, path, "en").location == path
    assert LANG_RE.search(client.get(path).get_data(as_text=True)).group(1) == "en"  # type: ignore[union-attr]


def test_a_change_of_language_sends_nothing_and_spends_no_form(esperanto: Flask) -> None:
    """On /follow-up (whose own POST view checks an access code): the chooser's POST reaches no view, changes no
    row and leaves the page's token unspent, so the page's own form, sent after it, is a first send."""
    code = gen_concern(esperanto.test_client())["access_code"]
    client = esperanto.test_client()
    page = client.get("/follow-up").get_data(as_text=True)
    before = _every_row(esperanto)
    chooser = found(CHOOSER_RE, page, group=0)
    chosen = client.post("/follow-up", data={"language_token": found(TOKEN_RE, chooser), "language": "eo"})
    assert (chosen.status_code, chosen.location) == (303, "/follow-up")
    assert _every_row(esperanto) == before
    # The page as it was before the choice (Back), its form sent with its own token: taken, not "already sent".
    sent = client.post("/follow-up", data={"csrf_token": found(CSRF_RE, page), "access_code": code})
    assert sent.location.startswith("/follow-up/case"), sent.location


def test_a_change_of_language_counts_against_no_limit(esperanto: Flask) -> None:
    """Two tries a minute here: five changes of language on each page with a limited form, then a wrong access code
    and a wrong password are still answered as such, not refused for too many tries."""
    guardian = gen_staff(esperanto)
    client = esperanto.test_client()
    for _ in range(5):
        for path in ("/follow-up", "/guardian/sign-in"):
            assert choose(client, path, "eo").status_code == 303
            assert choose(client, path, "en").status_code == 303
    page = client.get("/follow-up").get_data(as_text=True)
    wrong = client.post("/follow-up", data={"csrf_token": found(CSRF_RE, page), "access_code": "0000-0000-0000-0000"})
    assert wrong.status_code == 303
    page = client.get("/guardian/sign-in").get_data(as_text=True)
    failed = client.post("/guardian/sign-in", data={"csrf_token": found(CSRF_RE, page), "email": guardian.email,
                                                     "password": "wrong", "security_code": "000000"})  # fmt: skip
    assert failed.status_code == 303


def test_a_refused_token_changes_nothing_and_writes_no_cookie(esperanto: Flask) -> None:
    """A POST whose token is not this browser's (a page from before its session ended, another site's form): the
    page again, in its language, and the session not touched (so another site cannot end one by it)."""
    for token in ("forged", ""):
        client = esperanto.test_client()
        refused = client.post("/follow-up", data={"language_token": token, "language": "eo"})
        assert (refused.status_code, refused.location) == (303, "/follow-up")
        assert not refused.headers.getlist("Set-Cookie")
        assert LANG_RE.search(client.get("/follow-up").get_data(as_text=True)).group(1) == "en"  # type: ignore[union-attr]


def test_a_session_ended_since_the_page_was_drawn_refuses_its_token(esperanto: Flask) -> None:
    client = esperanto.test_client()
    chooser = found(CHOOSER_RE, client.get("/").get_data(as_text=True), group=0)
    client.delete_cookie("speakup_session")
    refused = client.post("/", data={"language_token": found(TOKEN_RE, chooser), "language": "eo"})
    assert (refused.status_code, refused.location) == (303, "/")
    assert LANG_RE.search(client.get("/").get_data(as_text=True)).group(1) == "en"  # type: ignore[union-attr]


def test_an_old_link_with_the_language_still_chooses_it(esperanto: Flask) -> None:
    """A bookmark or a trust's own link (``?language=``) still works: it records the choice and sends the browser to
    the page without it. The chooser never writes one."""
    client = esperanto.test_client()
    chosen = client.get("/follow-up?language=eo")
    assert (chosen.status_code, chosen.location) == (303, "/follow-up")
    assert LANG_RE.search(client.get("/follow-up").get_data(as_text=True)).group(1) == "eo"  # type: ignore[union-attr]


@pytest.mark.parametrize(("path", "form"), [("/raise", "raise-form"), ("/follow-up/case", "reply-form")])
def test_enter_in_a_field_of_a_form_that_keeps_words_does_not_choose_a_language(
    esperanto: Flask, path: str, form: str
) -> None:
    """The chooser's buttons belong to the page's form and come first in tree order, so the form's default button
    (the one Enter presses) would be the first language: a disabled button of that form comes before them
    (tests/system/test_browser_welsh.py presses Enter in Chromium)."""
    if path.startswith("/follow-up"):
        client = following_up(esperanto, gen_concern(esperanto.test_client())["access_code"])
    else:
        client = esperanto.test_client()
    page = client.get(path).get_data(as_text=True)
    buttons = re.findall(rf'<button[^>]*form="{form}"[^>]*>', page)
    assert len(buttons) > 1 and 'name="language"' in buttons[1], buttons
    first = buttons[0]
    assert 'type="submit"' in first and " disabled" in first and " hidden" in first and 'tabindex="-1"' in first
    assert page.index(first) < page.index('name="language"')


def test_exit_this_page_forgets_the_language_chosen(esperanto: Flask) -> None:
    """With JavaScript, "Exit this page" asks /exit as the page goes: the choice goes with the kept words, so the next
    person to open the service (the session not yet ended) finds it in the default language."""
    client = esperanto.test_client()
    choose(client, "/", "eo")
    assert LANG_RE.search(client.get("/").get_data(as_text=True)).group(1) == "eo"  # type: ignore[union-attr]
    assert client.get("/exit").status_code == 303
    assert LANG_RE.search(client.get("/").get_data(as_text=True)).group(1) == "en"  # type: ignore[union-attr]
