"""Each shipped reporter-side draft (issue 28, point 4), once an operator offers it: the reporter's home page is in
it, with its direction, and says in it that a guardian may need an interpreter to read a concern written in it."""

from __future__ import annotations

import html

import pytest
from babel.messages.pofile import read_po
from support.apps import make_app

from speakup.platform import languages

INTERPRETER = "You can write in this language, but a guardian may need an interpreter to read a concern written in it."
SHIPPED = sorted(path.parent.parent.name for path in languages.CATALOGUES.glob("*/LC_MESSAGES/messages.po"))
REPORTER_SIDE = [code for code in SHIPPED if languages.KNOWN.get(code, languages.KNOWN["en"]).reporter_side]


def _translation(code: str, msgid: str) -> str:
    with (languages.CATALOGUES / code / "LC_MESSAGES" / "messages.po").open("rb") as source:
        message = read_po(source).get(msgid)
    assert message is not None and message.string and message.string != msgid, f"{code}: {msgid!r} untranslated"
    return str(message.string)


@pytest.mark.parametrize("code", REPORTER_SIDE)
def test_the_home_page_in_a_reporter_side_language(database_url: str, code: str) -> None:
    app = make_app(database_url, LANGUAGES=["en", code])
    client = app.test_client()
    assert client.get(f"/?language={code}").status_code == 303
    page = html.unescape(client.get("/").get_data(as_text=True))
    language = languages.KNOWN[code]
    assert f'<html lang="{code}" dir="{language.direction}">' in page
    assert _translation(code, INTERPRETER) in page


def test_urdu_reads_right_to_left() -> None:
    assert "ur" in REPORTER_SIDE and languages.KNOWN["ur"].direction == "rtl"
