"""Words in the reader's language (issue 28): Flask-Babel's gettext functions, typed, in one place.

In a request they say the words in its language (speakup/web/languages.py chooses it); outside one (the command line,
a timer, a test in an application context) in English, the source language; an email chooses its own with
``force_locale`` (speakup/ops/notify.py). Import them as ``_``, ``_l`` and ``ngettext``: `make translations`
extracts those calls."""

from __future__ import annotations

from typing import Any

import flask_babel

from speakup.crypto.catalogue import N_ as N_  # the one mark for a message the catalogues must hold


def gettext(message: str, **variables: Any) -> str:
    return str(flask_babel.gettext(message, **variables))


def ngettext(singular: str, plural: str, num: int, **variables: Any) -> str:
    return str(flask_babel.ngettext(singular, plural, num, **variables))


def lazy_gettext(message: str, **variables: Any) -> Any:
    """For words made at import (a module's constant, a label): said in the language of the request that shows them."""
    return flask_babel.lazy_gettext(message, **variables)
