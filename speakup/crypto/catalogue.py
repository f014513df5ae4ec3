"""The one mark for a message the catalogues must hold (gettext_noop): `make translations` extracts its calls; the
message is translated where it is shown (speakup/platform/translation.py's ``gettext``).

It lives in the lowest layer, with no import, so that crypto's password rules and the settings' shipped texts
(speakup/defaults.py, which calls it ``shipped_text``: every capitalised name there is a setting) mark their
messages without Flask-Babel."""

from __future__ import annotations


def N_(message: str) -> str:
    """Marks ``message`` for the catalogues where it is made, and returns it as it is."""
    return message
