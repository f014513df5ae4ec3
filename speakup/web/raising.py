"""Raising a concern: the home page, the form, the one-time confirmation and "Exit this page".

The blueprint keeps its first name, ``report``: endpoint names (``url_for("report.raise_form")``, ...) are used by
templates, tests and the tools that drive the service, and renaming it would break them for no gain to a reader."""

from __future__ import annotations

from typing import cast

from flask import Blueprint, current_app, g, redirect, render_template, request, session, url_for
from sqlalchemy.exc import DBAPIError
from werkzeug.wrappers import Response

from speakup.domain import characteristics, checking, files, raising, stage_two, submissions
from speakup.domain.categories import ANONYMITY_LABELS, lists_for
from speakup.platform import attachments, clock, languages
from speakup.platform.extensions import submit_limit
from speakup.platform.form_posts import Kept
from speakup.platform.inputs import InvalidInput
from speakup.platform.models import drop_failed_transaction
from speakup.platform.public_urls import public_url
from speakup.platform.translation import gettext as _
from speakup.platform.translation import lazy_gettext as _l
from speakup.web import errors, once
from speakup.web.forgetting import CONFIRMATION, forget_this_browser
from speakup.web.forms import DomainForm
from speakup.web.uploads import accept_upload, uploaded_file

bp = Blueprint("report", __name__)


# The send whose confirmation this browser may show: the form's one-time token (the key to its sealed answer).
# The raise-form tokens this browser was given. Only these are honoured: a token planted by another site (posted
# into this form, kept when it came back) would otherwise let its planter open this person's confirmation.
ISSUED = "raise_forms"
ISSUED_KEPT = 5  # a few open tabs


def _form_send(posted: object) -> submissions.Sent:
    """The send a posted form token names, if this browser was given it; otherwise a fresh token, issued now."""
    issued = session.get(ISSUED, [])
    if isinstance(posted, str) and posted in issued:
        return submissions.from_form(posted)
    sent = submissions.from_form(None)
    session[ISSUED] = [*issued[-(ISSUED_KEPT - 1) :], sent.token]
    return sent


FILE_AGAIN = "file_again"  # kept with a form that came back: the file was fine, but a browser never sends it back
# The raise form's marker: its answers go to "Check your answers" (/raise/check), whose "Submit concern" raises
# it. A form sent without it (a script, an acceptance check, a page from before the check) raises it at once, as
# the stable interface has always said (docs/interface.md).
STEP, CHECK = "step", "check"
REMOVE_FILE = "remove_file"  # the box under a kept file: "Remove this file"


class ConcernForm(DomainForm):
    field_names = (
        *raising.CONCERN_FIELDS,
        *characteristics.FIELDS,
        attachments.FIELD,
        submissions.FORM_FIELD,
        FILE_AGAIN,
        STEP,
        REMOVE_FILE,
    )

    def concern(self) -> dict[str, object]:
        not_the_concern = (submissions.FORM_FIELD, FILE_AGAIN, STEP, REMOVE_FILE)
        values = {name: value for name, value in self.values.items() if name not in not_the_concern}
        return {**values, "characteristics": characteristics.from_form(self.values)}

    def came_back_with(self, errors: dict[str, str], file: attachments.CleanFile | None, to: str | None = None):
        """``came_back``, the checked file kept with the words (sealed alike), so it need not be chosen again."""
        self.fail(errors)
        return once.keep(self.form_name(), self.values, self.field_errors, to, file=file)


@bp.get("/")
def home():
    return render_template("report/home.html")


@bp.get("/other-ways")
def other_ways():
    """Speaking up some other way: the trust's guardians and champions, line management, bodies outside, and what
    to do in an emergency. Every contact comes from the settings (speakup/defaults.py), none from the code."""
    config = current_app.config
    # The shipped words are in the catalogues (marked in speakup/defaults.py); a trust's own come back as they are.
    external = [{**route, **{key: _(route[key]) for key in ("name", "about") if route.get(key)}}
                for route in config["EXTERNAL_ROUTES"]]  # fmt: skip
    return render_template(
        "report/other_ways.html",
        contacts=config["SPEAK_UP_CONTACTS"],
        line_management=_(config["LINE_MANAGEMENT"]),
        external=external,
        emergency=_(config["EMERGENCY_ADVICE"]),
    )


KEPT_EXCLUSION = _l("The guardian you chose (the list cannot be shown just now)")


def _guardian_choices(form: ConcernForm, database_down: bool = False) -> dict[str, str]:
    """Guardians a reporter may keep out. The form still works, without this list, if the database is down;
    a guardian already chosen stays chosen, so sending the form again can never drop the exclusion."""
    if not database_down and (guardians := raising.excludable_guardians_if_readable()) is not None:
        return {str(g.id): g.name for g in guardians}
    chosen = form.values.get("exclude_guardian", "")
    return {chosen: KEPT_EXCLUSION} if chosen else {}


def _render_form(
    form: ConcernForm, status: int = 200, database_down: bool = False, kept_file: attachments.CleanFile | None = None
):
    # A form that comes back keeps its token: it raised nothing yet, and a second send must still be the same one.
    token = _form_send(form.values.get(submissions.FORM_FIELD)).token
    return (
        render_template(
            "report/raise.html",
            form=form,
            submission_token=token,
            anonymity_options=ANONYMITY_LABELS,
            anonymous_warning=stage_two.anonymous_warning(),
            worker_groups=lists_for(clock.uk_today()).worker_groups,
            questions=characteristics.questions_for(clock.uk_today()),
            how_answers_are_kept=characteristics.HOW_ANSWERS_ARE_KEPT,
            # After a failed save, asking again would only wait out the database timeout a second time.
            guardians=_guardian_choices(form, database_down),
            max_chars=current_app.config["MAX_CONCERN_CHARS"],
            attachment_hint=attachments.limits_text(),
            attachment_accept=attachments.accept_attribute(),
            choose_file_again=bool(form.values.get(FILE_AGAIN)) and kept_file is None,
            kept_file=kept_file.filename if kept_file is not None else "",
        ),
        status,
    )


@bp.get("/raise")
def raise_form():
    # The words kept for this browser: after an error, or back from "Check your answers" ("Change", Back).
    found = once.kept(ConcernForm.form_name())
    return _render_form(cast(ConcernForm, ConcernForm.from_kept(found)), kept_file=found.file if found else None)


def kept_answers() -> Kept | None:
    """The raise form's words (and file) kept for this browser, read before a send's check forgets them."""
    try:
        return once.kept(ConcernForm.form_name())
    except DBAPIError:
        drop_failed_transaction()
        return None


@bp.post("/raise")
@once.checks_its_own_form  # after the upload's size limit, in accept_upload()
@submit_limit
def raise_submit():
    # Not claimed as other forms are: a second send of this one is answered by its submission token, with the
    # confirmation of the concern the first raised (domain/submissions.py).
    before = kept_answers()  # a file kept from an earlier "Continue" stays unless replaced or removed
    refused = accept_upload(claim=False)
    if refused is not None:
        return refused
    form = ConcernForm()
    upload = uploaded_file()
    if g.get("database_down"):  # found by the form's own check: not waited for a second time
        return not_saved(form, upload, g.database_down)
    sent = _form_send(form.values.get(submissions.FORM_FIELD))
    form.values[submissions.FORM_FIELD] = sent.token
    if form.values.get(STEP) == CHECK:
        kept_file = before.file if before is not None and not form.values.get(REMOVE_FILE) else None
        return _to_check(form, upload, kept_file)
    try:
        # The file is checked (and cleaned) before anything is raised: a refused file raises nothing.
        concern, clean = files.check_concern_with_file(form.concern(), upload)
        files.raise_with_file(concern, clean, sent, languages.page_code())
    except submissions.AlreadySent:
        pass  # a double click, a reload or Back and send again: the same confirmation, no second concern
    except InvalidInput as exc:
        # A browser never sends a file back: ask for it again if it was fine.
        form.values[FILE_AGAIN] = "1" if upload is not None and attachments.FIELD not in exc.errors else ""
        return form.came_back(exc.errors)
    except DBAPIError as exc:
        return not_saved(form, upload, exc)
    session[CONFIRMATION] = sent.token
    # Post, then redirect: reloading the confirmation or going Back never sends the form again.
    return redirect(url_for("report.confirmation"), 303)


def _to_check(form: ConcernForm, upload: tuple[str, bytes, str] | None, kept_file: attachments.CleanFile | None):
    """ "Continue": everything checked, nothing raised. The words and the clean file are kept sealed for this browser
    (once.keep) and shown on "Check your answers"; a problem sends the person back to the form by its field."""
    form.values[REMOVE_FILE] = form.values[FILE_AGAIN] = ""
    try:
        _concern, clean = checking.check(form.concern(), upload, kept_file)
    except checking.NotReady as exc:
        return form.came_back_with(exc.errors, exc.file)
    except DBAPIError as exc:
        return not_saved(form, upload, exc)
    to, back = url_for("report.check_answers"), url_for("report.raise_form")
    return once.keep(ConcernForm.form_name(), form.values, {}, to=to, also=(back,), file=clean)


def not_saved(form: ConcernForm, upload: object, error: DBAPIError):
    """The database is down. Every word they wrote is kept: it cannot be kept server-side now, so this one answer
    carries it back (an accepted risk, docs/threat-model.md), with a 503 that explains, and the operator's ERROR
    line (every way a concern is sent from the form comes here)."""
    errors.database_failed(error)
    form.values[FILE_AGAIN] = "1" if upload is not None else ""
    form.fail(
        {
            "service": _(
                "We could not save your concern just now. Nothing was stored. Please try again in a few minutes."
            )
        }
    )
    return _render_form(form, 503, database_down=True)


TOO_MANY_SENDS = _l(
    "Too many concerns have been sent from this network just now, so yours was not sent yet. Your words are kept "
    "below: please send it again in a little while."
)


@bp.errorhandler(429)
def _too_many_sends(error: Exception):
    """The raise form over the submission limit: back to the form with every word kept for this browser (never the
    words in this answer, which the browser would keep in History and send again on Reload)."""
    if request.endpoint != "report.raise_submit":
        return errors.form_refused(429)
    before = kept_answers()
    refused = accept_upload(claim=False)  # the file stays in memory; a forged or stale form keeps nothing
    if refused is not None:
        return refused
    form = ConcernForm()
    already = already_raised(form.values.get(submissions.FORM_FIELD))
    if already is not None:
        return already  # a double click or Reload of a concern raised before the limit: its confirmation, as ever
    form.values[FILE_AGAIN] = "1" if uploaded_file() is not None else ""
    response = form.came_back_with({"service": TOO_MANY_SENDS}, before.file if before is not None else None)
    response.headers["Retry-After"] = dict(getattr(error, "get_headers", lambda: [])()).get("Retry-After", "60")
    return response


def already_raised(posted: object) -> Response | None:
    """The confirmation of the concern this form already raised, or None if it raised none."""
    issued = session.get(ISSUED, [])
    if not isinstance(posted, str) or posted not in issued or submissions.find(submissions.from_form(posted)) is None:
        return None
    session[CONFIRMATION] = posted
    return redirect(url_for("report.confirmation"), 303)


@bp.get("/raise/sent")
def confirmation():
    """The access code, from the sealed answer the send left, for as long as it may be shown."""
    token = session.get(CONFIRMATION)
    done = submissions.find(submissions.from_form(token)) if token else None
    if done is None:
        return redirect(url_for("report.raise_form"))
    if done.answer is None:
        # The code is no longer shown: nor is anything else, so the next person here learns nothing, not even
        # that a concern was raised from this computer and its reference.
        session.pop(CONFIRMATION, None)
    return render_template(
        "report/confirmation.html",
        done=done,
        answer=done.answer,
        follow_up_url=public_url(url_for("followup.start")),  # printed on the slip: the address, never the host's
    )


@bp.get("/raise/sent/hide")
def hide_code():
    """ "I have saved my access code" asks first: hiding it is for good, so the button only leads here, and only
    "Yes, hide my code" (a form, answered by a redirect) hides it. Nothing about the concern is on this page."""
    token = session.get(CONFIRMATION)
    done = submissions.find(submissions.from_form(token)) if token else None
    if done is None or done.answer is None:
        return redirect(url_for("report.confirmation"))
    return render_template("report/hide_code.html")


@bp.post("/raise/sent")
def code_saved():
    """ "Yes, hide my code": it is forgotten here, with the rest of this browser's session, so the next person at
    this computer cannot see it. Sent again, the form is refused (the session it was made for is gone)."""
    return forget_this_browser(redirect(url_for("report.confirmation_done"), 303))


@bp.get("/raise/done")
def confirmation_done():
    return render_template("report/code_saved.html")


@bp.get("/exit")
def exit_page():
    """ "Exit this page": without JavaScript its button goes straight to EXIT_PAGE_URL; with it, this is also asked
    for in the background as the page is left (assets/exit_page.js), so what this browser's session keeps of a
    half-typed form (the words and file kept for "Check your answers" or after an error) goes at once rather than
    after KEPT_FORM_MINUTES; so does the language chosen (web/languages.py), so the next person to open the service
    does not find it in that language. Opened as a page, it leaves for EXIT_PAGE_URL too."""
    once.forget_kept()
    session.pop(languages.VISIT_CHOICE, None)
    return redirect(current_app.config["EXIT_PAGE_URL"], 303)
