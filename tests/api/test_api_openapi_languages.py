"""The OpenAPI document in the request's language (issue 28): every text in it written for a person (the info's title
and description, each operation's summary and description, and the description of each answer, schema, property,
parameter, header and security scheme) goes through the catalogue, as the API's error messages do. Field names, enum
values, patterns and formats are the same in every language: a client reads them, not a person.

The whole document is walked twice: in Welsh, the shipped catalogue, where no text may be left as the English
document has it; and in the pseudo-locale (support/pseudo.py), where every text must lie wholly inside ⟦ ⟧. A
description added in plain English, or not extracted into messages.pot, fails here, named by where it is."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from support.apps import make_app
from support.catalogues import directories_with
from support.openapi import API
from support.pseudo import CODE, install_pseudo_catalogue, outside_markers

# The keywords whose string is for a person. A schema's property may be named "title" or "description" too, but its
# value is a schema (an object), never a string, so only the keyword is collected.
FOR_PEOPLE = ("title", "summary", "description")
SAID = "…"
LETTER = re.compile(r"[^\W\d_]")


def texts(node: Any, where: str = "$") -> Iterator[tuple[str, str]]:
    """(where, text) for each text for a person in ``node``, in document order."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key in FOR_PEOPLE and isinstance(value, str):
                yield f"{where}.{key}", value
            else:
                yield from texts(value, f"{where}.{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from texts(value, f"{where}[{index}]")


def without_texts(node: Any) -> Any:
    """``node`` with each text for a person replaced by the same mark: what a client reads, in any language."""
    if isinstance(node, dict):
        return {
            key: SAID if key in FOR_PEOPLE and isinstance(value, str) else without_texts(value)
            for key, value in node.items()
        }
    if isinstance(node, list):
        return [without_texts(value) for value in node]
    return node


def document_in(app: Flask, language: str) -> dict[str, Any]:
    answer = app.test_client().get(f"{API}/openapi.json", headers={"Accept-Language": language})
    assert answer.status_code == 200
    return answer.get_json()


def test_the_openapi_document_is_wholly_in_welsh(app: Flask) -> None:
    assert "cy" in [language.code for language in app.config["LANGUAGES_OFFERED"]], "no Welsh catalogue (make install)"
    english, welsh = document_in(app, "en"), document_in(app, "cy")
    assert without_texts(welsh) == without_texts(english), "a name, enum value, pattern or format was translated"
    in_english = dict(texts(english))
    assert len(in_english) > 50  # the walk finds the document's texts
    left = [f"{where}: {text}" for where, text in texts(welsh) if text == in_english[where]]
    assert not left, f"{len(left)} texts of the Welsh OpenAPI document left in English:\n" + "\n".join(left)


def test_the_openapi_document_is_english_by_default(app: Flask) -> None:
    english = dict(texts(document_in(app, "en")))
    assert dict(texts(app.test_client().get(f"{API}/openapi.json").get_json())) == english
    assert english["$.paths./concerns.post.summary"] == "Raise a concern"
    assert "interpreter" in english["$.paths./concerns.post.parameters[1].description"]


@pytest.fixture
def pseudo_app(database_url: str, tmp_path: Path) -> Flask:
    folder = install_pseudo_catalogue(tmp_path / "translations")
    return make_app(database_url, LANGUAGES=["en", CODE], BABEL_TRANSLATION_DIRECTORIES=directories_with(folder))


def test_every_text_of_the_openapi_document_is_in_the_catalogue(pseudo_app: Flask) -> None:
    english, pseudo = document_in(pseudo_app, "en"), document_in(pseudo_app, CODE)
    assert without_texts(pseudo) == without_texts(english)
    found = list(texts(pseudo))
    assert len(found) > 50
    unmarked = [f"{where}: {text}" for where, text in found if LETTER.search(outside_markers(text)[0])]
    assert not unmarked, f"{len(unmarked)} texts of the OpenAPI document not translated:\n" + "\n".join(unmarked)


def test_the_walk_finds_an_unmarked_text() -> None:
    """The check itself: a text outside ⟦ ⟧ is found, one inside (nested or not) is not, and a field named
    "description" is a field, not a text."""
    document = {
        "info": {"title": "⟦Šþéák⟧", "description": "⟦Á ⟦nésted⟧ óné⟧"},
        "properties": {"description": {"type": "string", "description": "Plain English"}},
    }
    found = dict(texts(document))
    assert list(found) == ["$.info.title", "$.info.description", "$.properties.description.description"]
    assert [where for where, text in found.items() if LETTER.search(outside_markers(text)[0])] == [
        "$.properties.description.description"
    ]
    assert without_texts(document)["properties"]["description"] == {"type": "string", "description": SAID}
