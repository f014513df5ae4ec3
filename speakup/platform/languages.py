"""The languages the service can be offered in (issue 28), each named in itself, as a chooser lists them.

Which are offered is a setting (``LANGUAGES``, ``DEFAULT_LANGUAGE``: speakup/settings.py); a language is offered only
once its catalogue is installed (``speakup/translations/<code>/LC_MESSAGES/messages.mo``). English is the source
language and needs none. Nothing here reads a request: speakup/web/languages.py chooses for each one."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from babel import Locale, UnknownLocaleError
from babel.numbers import format_decimal
from flask import has_request_context
from flask_babel import get_locale

ENGLISH = "en"
# The session's key for the language a visit chose (speakup/web/languages.py), which "Exit this page" forgets too.
VISIT_CHOICE = "language"
CATALOGUES = Path(__file__).resolve().parent.parent / "translations"


@dataclass(frozen=True)
class Language:
    code: str  # a BCP 47 tag, as <html lang> takes it
    name: str  # in the language itself: a person finds their own language by how it is written
    direction: str  # "ltr" or "rtl", as <html dir> takes it
    reporter_side: bool = False  # a draft for those raising and following up a concern only (issue 28, point 4)


def _language(code: str, name: str, reporter_side: bool = False) -> Language:
    direction = "rtl" if Locale.parse(code).character_order == "right-to-left" else "ltr"
    return Language(code, name, direction, reporter_side)


# Welsh first after English (the Welsh Language Standards), then the languages most spoken by NHS staff after English.
KNOWN: dict[str, Language] = {
    language.code: language
    for language in (
        _language("en", "English"),
        _language("cy", "Cymraeg"),
        _language("pl", "Polski", reporter_side=True),
        _language("ro", "Română", reporter_side=True),
        _language("pt", "Português", reporter_side=True),
        _language("es", "Español", reporter_side=True),
        _language("hi", "हिन्दी", reporter_side=True),
        _language("ml", "മലയാളം", reporter_side=True),
        _language("fil", "Tagalog", reporter_side=True),  # Babel reads "tl" as Filipino ("fil"), the same language
        _language("ur", "اردو", reporter_side=True),
    )
}


def language(code: str) -> Language:
    """A known language, or one a catalogue was installed for (a test's pseudo-locale), named as Babel names it."""
    if code in KNOWN:
        return KNOWN[code]
    try:
        return _language(code, Locale.parse(code).display_name or code)
    except (UnknownLocaleError, ValueError):
        raise ValueError(f"{code!r} is not a language code Babel knows") from None


def template(code: str) -> str:
    """The name of the template (in speakup/translations/) a catalogue for ``code`` is made from and must cover."""
    known = KNOWN.get(code)
    return "reporter.pot" if known is not None and known.reporter_side else "messages.pot"


def for_page(offered: list[Language], reporter_page: bool) -> list[Language]:
    """The languages a page offers, its default first: all of ``offered`` on a reporter's page; elsewhere those that
    are not reporter-side (English, the source language, when none is left)."""
    if reporter_page:
        return offered
    return [each for each in offered if not each.reporter_side] or [KNOWN[ENGLISH]]


def has_catalogue(code: str, folders: list[Path]) -> bool:
    return code == ENGLISH or any((folder / code / "LC_MESSAGES" / "messages.mo").is_file() for folder in folders)


def listed(codes: object) -> list[str] | None:
    """The codes the setting ``LANGUAGES`` lists: a list (as JSON in the environment), or codes separated by commas;
    None for anything else."""
    if isinstance(codes, str):
        return [code.strip() for code in codes.split(",") if code.strip()]
    if isinstance(codes, list | tuple):
        return [str(code) for code in codes]
    return None


def default_code(codes: object, chosen: object, deadline_rules: object) -> object:
    """The default language, from the settings ``LANGUAGES``, ``DEFAULT_LANGUAGE`` (``chosen``) and
    ``DEADLINE_RULES``: the trust's choice when set (``offered`` checks it); unset, Welsh under the Welsh rules when
    Welsh is listed (issue 29: it stays English until Welsh is installed), else English when listed or nothing is,
    else the first listed."""
    if chosen:
        return chosen
    codes = listed(codes) or []
    if deadline_rules == "wales" and "cy" in codes:
        return "cy"
    return ENGLISH if ENGLISH in codes or not codes else codes[0]


def offered(codes: object, default: object, folders: list[Path]) -> list[Language]:
    """The languages to offer, the default first, from the settings ``LANGUAGES`` (see ``listed``) and
    ``DEFAULT_LANGUAGE``: those with a catalogue installed in ``folders`` (English always). ValueError, with what to
    set, for settings that cannot be meant."""
    codes = listed(codes)
    if not codes or default not in codes:
        raise ValueError('list language codes, for example ["en", "cy"], SPEAKUP_DEFAULT_LANGUAGE among them')
    chosen = [language(code) for code in codes]
    installed = [each for each in chosen if has_catalogue(each.code, folders)]
    installed.sort(key=lambda each: each.code != default)
    return installed or [KNOWN[ENGLISH]]


def page_code() -> str | None:
    """The code of the language this request is answered in (a page's, the visit's choice), None outside one."""
    locale = get_locale() if has_request_context() else None
    return str(locale) if locale is not None else None


def both_names(code: str) -> str:
    """A language named in itself, then in the page's language where that differs ("Cymraeg (Welsh)" on an English
    page, "Cymraeg" on a Welsh one): the person's language as they write it, and as the reader knows it."""
    own = language(code).name
    locale = get_locale() if has_request_context() else None
    page = str(locale or ENGLISH)
    try:
        theirs = Locale.parse(code).get_display_name(page) if page != code else None
    except (UnknownLocaleError, ValueError):
        theirs = None
    return f"{own} ({theirs})" if theirs and theirs.lower() != own.lower() else own


def number(value: int | float) -> str:
    """A number as the page's language writes it ("12,000"; "12 000" in Polish), English outside a request. The
    ``number`` filter in templates."""
    locale = get_locale() if has_request_context() else None
    return format_decimal(value, locale=locale or ENGLISH)
