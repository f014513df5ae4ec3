"""A staff page's time-out (WCAG 2.2.1, Timing Adjustable): "Stay signed in", and what the page sends when its time
runs out. The page says how long it stays open (guardian/base.html); with JavaScript it warns before the end
(assets/time_out.js) and then sends ``time_out``, which a session that has ended answers as any page would after a
time-out (``auth._to_sign_in``: forgotten, the typed words sealed to the guardian's own key, to sign in)."""

from __future__ import annotations

from flask import redirect
from flask_login import current_user, login_required

from speakup.domain import time_outs
from speakup.platform.extensions import login_manager
from speakup.platform.translation import lazy_gettext as _l
from speakup.web import once
from speakup.web.guardian import bp
from speakup.web.guardian.auth import page_and_unsent_words

UNSENT = "unsent-at-time-out"  # the name words given back at sign-in are kept under: no form of a page reads them
# The fields' names as the forms label them (each field whose words are kept at a time-out), in the page's language.
LABELS = {
    "body": _l("Message"),
    "extend_reason": _l("Reason for the extension"),
    "learning": _l("Learning"),
    "note": _l("Note"),
    "closing_message": _l("Closing message"),
    "named_contact": _l("Named contact"),
    "referral_note": _l("Referral note"),
    "referred_to": _l("Referred to"),
    "outcome": _l("Outcome"),
    "what_happened": _l("What happened"),
    "where": _l("Where"),
    "when": _l("When"),
    "name": _l("Name"),
    "contact": _l("Contact"),
}
SECONDS_LEFT = "Speakup-Seconds-Left"  # the answer's header: the time the session has now, idle or absolute


@bp.post("/keep-alive")
@once.checks_its_own_form  # its token is checked, not claimed: the same page may ask again
def keep_alive():
    """ "Stay signed in": 204 with the session's idle time started again (never its absolute limit). Without this
    browser's form token, a redirect with nothing done, as any refused form gets; a signed-out or timed-out session
    is answered as any page would answer it."""
    if not once.token_passes():
        return redirect(once.form_start(), 303)  # as every refused form is answered, with nothing done
    if not current_user.is_authenticated:
        return login_manager.unauthorized()
    left = time_outs.keep_staff_session_alive(current_user.row)
    return "", 204, {SECONDS_LEFT: str(left.until_the_end)}


@bp.post("/time-out")
@login_required  # a session that ended is answered by auth._to_sign_in, which keeps what was typed for sign-in
def time_out():
    """The page's time ran out, but the session has not (another tab kept it going): back to the page, the words
    typed in it kept for it as a form's that came back."""
    page, unsent = page_and_unsent_words()
    if unsent is not None and any(value.strip() for value in unsent.values.values()):
        return once.keep(unsent.form, unsent.values, {}, to=page)
    return redirect(page, 303)


def give_back(unsent: time_outs.Unsent) -> None:
    """At sign-in, the words kept at a time-out, for the page they were typed on, shown once beside its form as not
    sent (``unsent_at_time_out``), never put in it: whoever sat at the screen after the guardian may have typed them
    (review finding F3), and a filled form is one press from sending them in her name."""
    once.keep_for(UNSENT, unsent.values, {}, unsent.path)


@bp.app_template_global()
def unsent_at_time_out() -> list[tuple[str, str]]:
    """The words given back at sign-in, on this page: (label, words) for each field that holds any."""
    kept = once.kept(UNSENT)
    if kept is None:
        return []
    return [
        (LABELS.get(name, name.replace("_", " ").capitalize()), value)
        for name, value in kept.values.items()
        if value.strip()
    ]
