"""Which language a request is answered in (issue 28), and the chooser on every page.

A page is in the language this visit chose, or the first one offered (``DEFAULT_LANGUAGE``). The choice is kept in
the session cookie only, so it ends with the browser's visit, with every way out that clears the session (signing
out, a time-out) and with "Exit this page" when JavaScript asks /exit as the page goes: nothing about it is stored
or logged. The API answers by the request's ``Accept-Language``.

No address names the choice (outside review r7b, F1): History keeps every address a browser visits, a redirect's
source too, and a rare language can single a person out to the next person at a shared computer. So the chooser is
a small form of its own, posted to the page's own address (it has no ``action``: the browser posts it to the address
it shows, query and all, which the page never writes, as it may hold a case's reference) with buttons named
``language`` and the page's form token (``TOKEN_FIELD``), which works without JavaScript.
``_take_own_form`` answers it before anything else reads the POST (once's check, the rate limiter, the address's own
POST view, which never runs): the choice is recorded when the token is this browser's, and the answer is a 303 to
the page. The token is checked, never claimed (the page's own forms share it and stay unsent), and nothing is read
from the database, so the chooser works on every page, error pages included. A token that does not pass (the
session ended since the page was drawn, another site's form) records nothing and writes no cookie: the page comes
back, drawn with a fresh token. A ``?language=`` link (an old bookmark, a trust's own "in Welsh" link) is still
taken, and the browser sent to the page without it; the service never writes one.

A reporter-side language (speakup/platform/languages.py) is offered, and answered in, only on the pages of a person
raising or following up a concern (``REPORTER_BLUEPRINTS``) and on the error pages of addresses outside the staff's
(a mistyped address): its catalogue translates those pages alone. Elsewhere the page is in the first other language
offered, whatever the visit chose, and a choice of it made there is not recorded.

On a page whose form holds what a person typed (``keeps_words``), a form of its own would lose those words, so the
chooser is a row of submit buttons tied to that form (HTML ``form``/``formaction``, ``name="language"``). Their POST
goes to the page's own address; ``_take_choice`` records the choice, keeps the posted fields as a form that came back
keeps them (speakup/web/once.py: sealed for this browser, shown by the page), and sends the browser back to the page
in the new language. Nothing more is stored than any kept form stores. Those buttons come first in the form's tree
order, so a disabled button of the form before them (base.html) is its default: Enter in a one-line field sends
nothing rather than a change of language (F4).

Such pages: the raise form and the person's reply (every field the form posts), and a guardian's "Record a concern"
(its own fields only) and case page. The case page's sections are one form (speakup/web/guardian/case.py), so the
buttons send every section, JavaScript or not, and the words typed in each (message, note, closing, referral,
extension) are kept under ``CaseForm.page`` as an action keeps the other sections', each shown again in its own
section. Neither page asks for a password or security code. A guardian's page first checks the session
(``auth.signed_in_first``): one that timed out is answered as a form sent then is, the words sealed to the guardian's
own key for their next sign-in and shown as not sent, never kept for a browser whose session is forgotten."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from flask import Flask, current_app, g, has_request_context, redirect, request, session
from flask_babel import Babel, get_locale
from werkzeug.exceptions import HTTPException
from werkzeug.routing import RequestRedirect
from werkzeug.wrappers import Response

from speakup.platform import languages
from speakup.platform.languages import ENGLISH, Language
from speakup.web import once

CHOSEN = languages.VISIT_CHOICE  # the session's key, the chooser's buttons' name (and an old link's query)
# The chooser's own form's token field: it holds the page's form token, checked but never claimed.
TOKEN_FIELD = "language_token"  # noqa: S105 - a field's name, not a secret
URLENCODED = "application/x-www-form-urlencoded"
NOT_KEPT = ("csrf_token", CHOSEN)  # what the chooser's POST carries besides the form's own words


@dataclass(frozen=True)
class PageForm:
    element_id: str  # the id of the page's <form>, which the chooser's buttons name in their ``form`` attribute
    form_name: str  # the name its words are kept under (DomainForm.form_name()), which the page reads them by
    # The words to keep, read from the posted form as the page reads them back (None: every field posted but
    # NOT_KEPT). A staff page's names only its own fields: nothing else a POST carries is kept.
    words: Callable[[], dict[str, str]] | None = None
    # The page's answer before anything is kept, when it has one (a guardian's page: a session that timed out is
    # answered as its forms are, the words sealed to the guardian's own key rather than kept for the browser).
    first: Callable[[], Response | None] | None = None


_PAGE_FORMS: dict[str, PageForm] = {}


def keeps_words(
    endpoint: str,
    element_id: str,
    form_name: str,
    words: Callable[[], dict[str, str]] | None = None,
    first: Callable[[], Response | None] | None = None,
) -> None:
    """The page at ``endpoint`` has a form (``<form id=element_id>``) whose typed words the chooser keeps: its
    buttons send that form, and the page shows the words kept under ``form_name`` (once.kept) in the new language;
    ``words`` reads them from the posted form (every field but the token and the choice, by default), after
    ``first`` (a check the page makes before anything is kept) has not answered."""
    _PAGE_FORMS[endpoint] = PageForm(element_id, form_name, words, first)


REPORTER_BLUEPRINTS = frozenset({"report", "followup", "about"})


def reporter_page() -> bool:
    """Whether this request is for a reporter's page (or an error page reached from one): its blueprint is one of
    theirs, or, an address that matched no page (404, 405), it lies under no other blueprint's prefix."""
    if request.blueprint is not None:
        return request.blueprint in REPORTER_BLUEPRINTS
    prefixes = [
        blueprint.url_prefix.rstrip("/")
        for name, blueprint in current_app.blueprints.items()
        if name not in REPORTER_BLUEPRINTS and blueprint.url_prefix
    ]
    return not any(request.path == prefix or request.path.startswith(prefix + "/") for prefix in prefixes)


def offered() -> list[Language]:
    """The languages this page offers, its default first (all of them outside a request)."""
    every: list[Language] = current_app.config["LANGUAGES_OFFERED"]
    if not has_request_context():
        return every
    return languages.for_page(every, reporter_page() and request.blueprint != "api")


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


def _record(code: str | None) -> None:
    if code in _offered_codes():
        session[CHOSEN] = code


def _without_choice() -> str:
    rest = [(key, value) for key, value in request.args.items(multi=True) if key != CHOSEN]
    return request.path + (f"?{urlencode(rest)}" if rest else "")


def _page_form(path: str) -> PageForm | None:
    """The form the chooser keeps on the page at ``path`` (a GET address), if it keeps one."""
    try:
        endpoint, _arguments = current_app.url_map.bind("localhost").match(path, method="GET")
    except (HTTPException, RequestRedirect):
        return None
    return _PAGE_FORMS.get(str(endpoint))


def _take_own_form() -> Response | None:
    """The chooser's own form: the choice kept for the visit when its token is this browser's, and the page again.
    First of all a POST meets (``init_app``), so no view runs for it and no form or limit is spent."""
    if request.method != "POST" or request.blueprint == "api" or request.mimetype != URLENCODED:
        return None
    if TOKEN_FIELD not in request.form:
        return None  # a form of the page's own (the keeps_words buttons send that form's token, never this field)
    if once.token_is_this_browsers(TOKEN_FIELD):
        _record(request.form.get(CHOSEN))
    return redirect(_without_choice(), 303)


def _take_choice() -> Response | None:
    """An old ``?language=`` link: the choice kept for the visit, and the same page again without it in the address.
    A chooser button on a page that keeps words: the same, with the words of the page's form kept."""
    if request.blueprint == "api":
        return None
    if request.method == "GET" and CHOSEN in request.args:
        _record(request.args.get(CHOSEN))
        return redirect(_without_choice(), 303)
    # The body is read only for the chooser's own POST (its buttons send it urlencoded, never a file): a form that
    # takes a file is read by its view, after the upload's own limit (once.checks_its_own_form).
    if request.method != "POST" or request.mimetype != URLENCODED or CHOSEN in request.args:
        return None
    page_form = _page_form(request.path)
    if page_form is None or CHOSEN not in request.form:
        return None  # not the chooser: a form of some other page with a field of this name is its own view's
    answered = page_form.first() if page_form.first is not None else None
    if answered is not None:
        return answered
    _record(request.form.get(CHOSEN))
    # A file kept with the form's words (the raise form's, back from "Check your answers") stays with them: the
    # buttons send no file, and the check below forgets what was kept before. A form checked before this hook ran
    # (once._check_post) has forgotten it already, as its own send would: only a form that checks its own keeps it.
    before = once.kept(page_form.form_name) if "form_nonce" not in g else None
    # The form's token: checked and claimed already (once._check_post) unless the address's own POST view checks
    # its own (the raise form) or there is none. A refused token keeps nothing, as any refused form.
    if "form_nonce" not in g and once.check_form() is not None:
        return redirect(_without_choice(), 303)
    if page_form.words is not None:
        words = page_form.words()
    else:
        words = {name: value for name, value in request.form.items() if name not in NOT_KEPT}
    file = before.file if before is not None else None
    return once.keep(page_form.form_name, words, {}, to=_without_choice(), file=file)


def current() -> Language:
    code = str(get_locale() or offered()[0].code)
    return next((language for language in offered() if language.code == code), offered()[0])


def spoken() -> str | None:
    """The language the person is using, kept with a concern they raise through the API (issue 28, point 5): the
    one its ``Accept-Language`` asks for among those offered, or None when it names none (not the default the answer
    falls back to, which the person may not read). A page's is the visit's choice (platform/languages.page_code)."""
    return request.accept_languages.best_match(_offered_codes())


def chooser_languages() -> list[Language]:
    """Each other language offered, for the chooser's buttons."""
    here = current()
    return [language for language in offered() if language.code != here.code]


def _this_page_relative() -> str:
    """The chooser's buttons send the form to this very page: "?" and its query ("?" alone: the same path, empty
    query), never the path written again, as the links (a case's address may hold its reference)."""
    rest = [(key, value) for key, value in request.args.items(multi=True) if key != CHOSEN]
    return f"?{urlencode(rest)}"


def chooser_form() -> PageForm | None:
    """The form on this page whose words the chooser's buttons keep, if any (None: the chooser is a form of its
    own)."""
    return _PAGE_FORMS.get(str(request.endpoint)) if request.method == "GET" else None


def init_app(app: Flask) -> None:
    Babel(app, locale_selector=_select_locale)
    # {% trans %} blocks are extracted and looked up with their whitespace collapsed, so a template's line breaks
    # are not part of what a translator sees.
    app.jinja_env.policies["ext.i18n.trimmed"] = True
    # The chooser's own form first of all (after once.init_app, which puts its check first: register() runs this
    # after it), before once's check of the form, the rate limiter and the address's own view.
    app.before_request_funcs.setdefault(None, []).insert(0, _take_own_form)
    app.before_request(_take_choice)
    # Numbers on pages as the page's language writes them: {{ count | number }}.
    app.add_template_filter(languages.number, "number")

    @app.context_processor
    def _language_globals() -> dict[str, Any]:
        return {
            "page_language": current(),
            "other_languages": chooser_languages,
            "chooser_form": chooser_form,
            "chooser_action": _this_page_relative,
        }

    # The raise form: the words someone has begun to write are the last thing a change of language may lose.
    from speakup.web.raising import ConcernForm

    keeps_words("report.raise_form", "raise-form", ConcernForm.form_name())
    # The person's reply on their case page, half written.
    from speakup.web.followup import ReplyForm

    keeps_words("followup.case_page", "reply-form", ReplyForm.form_name())
    # A guardian's words: "Record a concern" (its own fields only), and the case page, whose sections are one form
    # (guardian/case.py): the words typed in each section, kept as an action keeps the others' (no password or
    # security code is on either page).
    from speakup.web.guardian.auth import signed_in_first
    from speakup.web.guardian.case import PAGE, words_elsewhere
    from speakup.web.guardian.record import RecordForm

    def record_words() -> dict[str, str]:
        return RecordForm().values

    keeps_words("guardian.record_concern", "record-form", RecordForm.form_name(), record_words, signed_in_first)
    keeps_words("guardian.case_page", "case-form", PAGE, words_elsewhere, signed_in_first)
