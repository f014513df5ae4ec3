"""One home for the words (speakup/platform/translation.py): no other module takes gettext, ngettext, lazy_gettext or
force_locale from Flask-Babel, because the catalogue a request found is kept there and forgotten by its
``force_locale`` only: a word said through Flask-Babel's own functions, or a language forced by its own
``force_locale``, would go round that and could be said in the wrong language."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from flask import Flask, render_template_string

from speakup.platform import translation

PACKAGE = Path(__file__).resolve().parents[2] / "speakup"
HOME = PACKAGE / "platform" / "translation.py"
WORDS = {"gettext", "ngettext", "lazy_gettext", "lazy_ngettext", "pgettext", "force_locale", "get_translations"}


def _takes_words_from_flask_babel(tree: ast.AST) -> list[str]:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module == "flask_babel":
            found += [alias.name for alias in node.names if alias.name in WORDS]
        elif isinstance(node, ast.Import) and any(alias.name == "flask_babel" for alias in node.names):
            found.append("import flask_babel")
    return found


def test_only_the_home_takes_words_from_flask_babel() -> None:
    offenders = {
        str(path.relative_to(PACKAGE.parent)): taken
        for path in sorted(PACKAGE.rglob("*.py"))
        if path != HOME and (taken := _takes_words_from_flask_babel(ast.parse(path.read_text())))
    }
    assert offenders == {}


@pytest.mark.parametrize("app_overrides", [{"DEFAULT_LANGUAGE": "cy"}], indirect=True)
def test_a_forced_language_is_said_inside_its_block_and_the_pages_own_after_it(app: Flask) -> None:
    with app.test_request_context("/"):
        assert translation.gettext("Closed") == "Wedi cau"  # the catalogue found, and kept for the request
        with translation.force_locale("en"):
            assert translation.gettext("Closed") == "Closed"
            assert translation.ngettext("%(num)s day", "%(num)s days", 2) == "2 days"
            with translation.force_locale("cy"):
                assert str(translation.lazy_gettext("Closed")) == "Wedi cau"
            assert str(translation.lazy_gettext("Closed")) == "Closed"
        assert translation.gettext("Closed") == "Wedi cau"


@pytest.mark.parametrize("app_overrides", [{"DEFAULT_LANGUAGE": "cy"}], indirect=True)
def test_a_template_says_its_words_in_the_language_forced_around_it(app: Flask) -> None:
    template = "{{ _('Closed') }} {% trans %}Sign in{% endtrans %} {{ pgettext('a date follows', 'closed') }}"
    with app.test_request_context("/"):
        welsh = render_template_string(template)
        assert welsh.startswith("Wedi cau Mewngofnodi ") and not welsh.endswith(" closed")
        with translation.force_locale("en"):
            assert render_template_string(template) == "Closed Sign in closed"
        assert render_template_string(template) == welsh


def test_outside_an_application_the_words_are_english() -> None:
    assert translation.gettext("Closed") == "Closed"
    with translation.force_locale("cy"):
        assert translation.gettext("Closed") == "Closed"
