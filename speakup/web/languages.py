"""Which language a request is answered in (issue 28), and the chooser on every page.

A page is in the language this visit chose, or the first one offered (``DEFAULT_LANGUAGE``). The choice is kept in
the session cookie only, so it ends with the browser's visit (and with a time-out or "Exit this page", which clear
the session): nothing about it is stored or logged. The chooser is a link to the same page with ``?language=``;
the answer records the choice and sends the browser back to the page without it. The API answers by the request's
``Accept-Language``."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from flask import Flask, current_app, has_request_context, redirect, request, session
from flask_babel import Babel, get_locale
from werkzeug.wrappers import Response

from speakup.platform.languages import ENGLISH, Language

CHOSEN = "language"  # the session's key, and the chooser link's query parameter


def offered() -> list[Language]:
    languages: list[Language] = current_app.config["LANGUAGES_OFFERED"]
    return languages


def _offered_codes() -> list[str]:
    return [language.code for language in offered()]


def _select_locale() -> str:
    if not has_request_context():
        # The command line and timers answer their operator in English; an email chooses its own (force_locale).
        return ENGLISH
    codes = _offered_codes()
    if request.blueprint == "api":
        return request.accept_languages.best_match(codes) or codes[0]
    chosen = session.get(CHOSEN)
    return chosen if chosen in codes else codes[0]


def _take_choice() -> Response | None:
    """A chooser link: the choice kept for the visit, and the same page again without it in the address (so a
    bookmark or the history holds none)."""
    if request.method != "GET" or CHOSEN not in request.args or request.blueprint == "api":
        return None
    code = request.args.get(CHOSEN)
    if code in _offered_codes():
        session[CHOSEN] = code
    rest = [(key, value) for key, value in request.args.items(multi=True) if key != CHOSEN]
    return redirect(request.path + (f"?{urlencode(rest)}" if rest else ""), 303)


def current() -> Language:
    code = str(get_locale() or offered()[0].code)
    return next((language for language in offered() if language.code == code), offered()[0])


def chooser_links() -> list[tuple[Language, str]]:
    """Each other language offered, with the address of this page in it."""
    here = current()
    rest = [(key, value) for key, value in request.args.items(multi=True) if key != CHOSEN]
    return [
        (language, request.path + "?" + urlencode([*rest, (CHOSEN, language.code)]))
        for language in offered()
        if language.code != here.code
    ]


def init_app(app: Flask) -> None:
    Babel(app, locale_selector=_select_locale)
    # {% trans %} blocks are extracted and looked up with their whitespace collapsed, so a template's line breaks
    # are not part of what a translator sees.
    app.jinja_env.policies["ext.i18n.trimmed"] = True
    app.before_request(_take_choice)

    @app.context_processor
    def _language_globals() -> dict[str, Any]:
        return {"page_language": current(), "other_languages": chooser_links}
