"""A pseudo-locale (issue 28): a catalogue made from speakup/translations/messages.pot in which every message is its
English with its letters accented and wrapped in ⟦ ⟧, placeholders (``%(name)s``) and HTML tags kept as they are,
plural forms too. A page rendered in it shows at a glance, and to a test exactly, any visible text that did not go
through the catalogue: whatever lies outside ⟦ ⟧ and is not the test's own data (the person's words, names, codes,
numbers, dates) was never marked for translation, or never extracted into the template."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from html.parser import HTMLParser
from pathlib import Path

from babel import Locale
from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "speakup" / "translations" / "messages.pot"
CODE = "eo"  # Esperanto: a language Babel knows (dates, plural rules) that the service does not ship
OPEN, CLOSE = "⟦", "⟧"

_ACCENTED = str.maketrans("aeiouycnsAEIOUYCNS", "áéíóúýçñšÁÉÍÓÚÝÇÑŠ")
# Kept as they are: placeholders (%(name)s, %(count)d, %%), HTML tags and character references.
_KEPT = re.compile(r"(%\([^)]*\)[-#0 +]*\d*(?:\.\d+)?[a-z]|%%|<[^>]*>|&#?\w+;)")


def pseudo(text: str) -> str:
    """``text`` as the pseudo-locale writes it: "Skip to %(place)s" -> "⟦Škíp tó %(place)s⟧"."""
    parts = _KEPT.split(text)
    return OPEN + "".join(part if index % 2 else part.translate(_ACCENTED) for index, part in enumerate(parts)) + CLOSE


# Latin letters as Arabic-script ones (Urdu's alphabet), to lay out a right-to-left language's pages with text as long
# and as unbreakable as a translation's: each word stays a word, so lines wrap where a translation's would.
_ARABIC_SCRIPT = str.maketrans(
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ",
    "ابپتٹثجچحخدڈذرڑزژسشصضطظعغفابپتٹثجچحخدڈذرڑزژسشصضطظعغف",
)


def in_arabic_script(text: str) -> str:
    """``text`` written in Urdu's letters, placeholders and HTML tags kept: "Skip to %(place)s" -> "سثءپ ..."."""
    parts = _KEPT.split(text)
    return "".join(part if index % 2 else part.translate(_ARABIC_SCRIPT) for index, part in enumerate(parts))


def install_pseudo_catalogue(
    folder: Path, template: Path = TEMPLATE, code: str = CODE, write: Callable[[str], str] = pseudo
) -> Path:
    """A compiled catalogue for ``code`` under ``folder`` translating every message of ``template`` as ``write``
    writes it; returns ``folder`` (as support.catalogues.install_catalogue does)."""
    with template.open("rb") as file:
        source = read_po(file)
    catalog = Catalog(locale=code)
    forms = catalog.num_plurals
    for message in source:
        if not message.id:
            continue
        if isinstance(message.id, tuple | list):
            singular, plural = message.id[0], message.id[1]
            string: str | tuple[str, ...] = (write(singular), *[write(plural)] * (forms - 1))
        else:
            string = write(message.id)
        catalog.add(message.id, string, context=message.context)
    where = folder / code / "LC_MESSAGES"
    where.mkdir(parents=True, exist_ok=True)
    with (where / "messages.mo").open("wb") as out:
        write_mo(out, catalog)
    return folder


# --- Finding what was left untranslated -------------------------------------------------------------------------

_NOT_SHOWN = {"script", "style", "template"}
_ATTRIBUTES = ("title", "aria-label", "alt", "placeholder")
_BUTTON_INPUTS = {"submit", "button", "reset"}
_LETTER = re.compile(r"[^\W\d_]")
# What is data on any page, never a message: addresses, emails, codes and references, anything with a digit (numbers,
# dates, times, sizes), long capitals (a security code's secret), and the pseudo-locale's month
# names (Babel's).
_DATA = [
    re.compile(r"https?://\S+"),
    re.compile(r"\b(?:[a-z0-9-]+\.)+(?:uk|org|com|net)\b"),  # a web address shown as its host (a link's words)
    re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+"),
    re.compile(r"\S*\d\S*"),
    re.compile(r"\b[A-Z2-7]{16,}\b"),
    re.compile(r"\b[0-9A-Z]{4}(?:-[0-9A-Z]{4})+\b"),
    re.compile(r"\bSU-[0-9A-Z]+\b"),  # a case's reference
]
_ALWAYS = ("NHS",)  # the logo's name, never translated


def _without_data(text: str) -> str:
    for pattern in _DATA:
        text = pattern.sub(" ", text)
    return text


def _month_names(code: str) -> list[str]:
    months = Locale.parse(code).months
    return [name for width in ("format", "stand-alone") for name in months[width]["wide"].values()]


class _Visible(HTMLParser):
    """The visible text of a page as it flows (text nodes in order, with where each is), and the text of each
    attribute a person perceives (read aloud or shown), each on its own."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.flow: list[tuple[str, str]] = []  # (where, text)
        self.attributes: list[tuple[str, str]] = []
        self._stack: list[str] = []
        self._hidden = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        if tag in _NOT_SHOWN:
            self._hidden += 1
        if tag not in ("br", "img", "input", "meta", "link", "hr", "source", "wbr"):
            self._stack.append(tag + (f"#{values['id']}" if values.get("id") else ""))
        where = "/".join(self._stack[-3:]) or tag
        for name in _ATTRIBUTES:
            if values.get(name):
                self.attributes.append((f"{where}[{name}]", values[name]))
        if tag == "input" and values.get("type") in _BUTTON_INPUTS and values.get("value"):
            self.attributes.append((f"{where}[value]", values["value"]))

    def handle_endtag(self, tag: str) -> None:
        if tag in _NOT_SHOWN:
            self._hidden = max(0, self._hidden - 1)
        for index in range(len(self._stack) - 1, -1, -1):
            if self._stack[index].split("#")[0] == tag:
                del self._stack[index:]
                break

    def handle_data(self, data: str) -> None:
        if not self._hidden and data.strip():
            self.flow.append(("/".join(self._stack[-3:]), data))


def outside_markers(text: str, depth: int = 0) -> tuple[str, int]:
    """What of ``text`` lies outside ⟦ ⟧, given the markers already open before it (``depth``), and how many are
    open after it (a translated placeholder's value nests one marker inside another)."""
    outside = []
    for char in text:
        if char == OPEN:
            depth += 1
        elif char == CLOSE:
            depth = max(0, depth - 1)
        elif depth == 0:
            outside.append(char)
    return "".join(outside), depth


def _outside_markers(pieces: Iterable[tuple[str, str]]) -> list[tuple[str, str, str]]:
    """(where, piece, what of it lies outside ⟦ ⟧), a marker opened in one text node closing in a later one (a
    translated sentence with a link inside it)."""
    depth, found = 0, []
    for where, text in pieces:
        outside, depth = outside_markers(text, depth)
        found.append((where, text, outside))
    return found


def untranslated(page: str, data: Iterable[str] = (), code: str = CODE) -> list[str]:
    """Each visible text (``where: text``) of ``page`` with words outside ⟦ ⟧ that are not ``data`` (the test's own:
    the person's words, names, the organisation's name, language names) nor data on any page."""
    parser = _Visible()
    parser.feed(page)
    parser.close()
    # Compared without case: a date writes its month with a capital where the language puts one. Longest first.
    values = sorted({value for value in (*data, *_ALWAYS, *_month_names(code)) if value}, key=len, reverse=True)
    known = re.compile("|".join(re.escape(value) for value in values), re.IGNORECASE)
    checked = _outside_markers(parser.flow)
    checked += [row for attribute in parser.attributes for row in _outside_markers([attribute])]
    offending = []
    for where, text, outside in checked:
        if _LETTER.search(_without_data(known.sub(" ", outside))) and _LETTER.search(
            known.sub(" ", _without_data(outside))  # a web address may hold a known word ("england.nhs.uk")
        ):
            offending.append(f"{where}: {' '.join(text.split())[:100]}")
    return offending
