"""Words in the reader's language (issue 28): Flask-Babel's gettext functions, typed, in one place.

In a request they say the words in its language (speakup/web/languages.py chooses it); outside one (the command line,
a timer, a test in an application context) in English, the source language; an email chooses its own with
``force_locale`` (speakup/ops/notify.py). Import them as ``_``, ``_l`` and ``ngettext``: `make translations`
extracts those calls.

The catalogue is found once per request and language, not once per word: Flask-Babel's own functions look the
request's catalogue up afresh for every word (about forty times the cost of the word itself), and a queue of a few
hundred words a page spent a third of its time there (BENCHMARKS.md). The catalogue found is kept on ``flask.g``
with the locale it was found for, and used while Flask-Babel's locale is that same object: ``force_locale`` (this
module's or Flask-Babel's) sets another, and puts the first back after."""

from __future__ import annotations

from contextlib import AbstractContextManager
from gettext import NullTranslations
from typing import Any

import flask_babel
from flask import Flask, g, has_app_context
from flask_babel.speaklater import LazyString

from speakup.crypto.catalogue import N_ as N_  # the one mark for a message the catalogues must hold

_FOUND = "_speakup_catalogue"  # (the locale, its catalogue) this request (or app context) last said words in


def _catalogue() -> NullTranslations:
    if not has_app_context():
        return flask_babel.get_translations()  # English: there is no language to have chosen
    locale = flask_babel.get_locale()
    found: tuple[object, NullTranslations] | None = g.get(_FOUND)
    if found is None or found[0] is not locale:
        found = (locale, flask_babel.get_translations())
        setattr(g, _FOUND, found)
    return found[1]

def gettext(message: str, **variables: Any) -> str:
    said = _catalogue().gettext(message)
    return said % variables if variables else said


def ngettext(singular: str, plural: str, num: int, **variables: Any) -> str:
    variables.setdefault("num", num)
    return _catalogue().ngettext(singular, plural, num) % variables


def lazy_gettext(message: str, **variables: Any) -> Any:
    """For words made at import (a module's constant, a label): said in the language of the request that shows them."""
    return LazyString(gettext, message, **variables)


def force_locale(code: str) -> AbstractContextManager[None]:
    """Words said in ``code`` inside the block (an email to a guardian), whatever the request's language."""
    return flask_babel.force_locale(code)


def install_in_templates(app: Flask) -> None:
    """Templates say their words through the same catalogue (Flask-Babel installed its own callables, which look it
    up for every word); Jinja wraps them as it wrapped Flask-Babel's (escaping, ``%(name)s`` placeholders)."""
    # The i18n extension (added by Flask-Babel) gives the environment this method.
    app.jinja_env.install_gettext_callables(  # type: ignore[attr-defined]
        gettext=lambda message: _catalogue().gettext(message),
        ngettext=lambda singular, plural, num: _catalogue().ngettext(singular, plural, num),
        pgettext=lambda context, message: _catalogue().pgettext(context, message),
        npgettext=lambda context, singular, plural, num: _catalogue().npgettext(context, singular, plural, num),
        newstyle=True,
    )
