"""A guardian's case page and everything done on it. Each action is a small form; every form that
changes the case carries the version it was loaded at, so a stale form gets a conflict, never an
overwrite, and the guardian's typed words come back with the message.

Every action answers with a redirect to the case page (speakup/web/once.py): done, with a notice; refused, with the
form's words kept sealed for this browser and shown again by the form, the message beside its field."""

from __future__ import annotations

import io
import json
from collections.abc import Callable

from flask import (
    abort,
    flash,
    get_flashed_messages,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask_login import current_user
from werkzeug.wrappers import Response

from speakup.domain import case_pages, files, handling, references, referrals, stage_two, workflow
from speakup.domain.deadlines import changes as deadline_changes
from speakup.platform import dates
from speakup.platform.form_posts import Kept
from speakup.platform.inputs import InvalidInput, parse_int
from speakup.platform.models import Author, Case
from speakup.platform.translation import gettext as _
from speakup.platform.translation import lazy_gettext as _l
from speakup.web import once
from speakup.web.forms import DomainForm
from speakup.web.guardian import bp
from speakup.web.guardian.auth import guardian_required, keeps_words_at_time_out, private_key

CONFLICT = _l("This case changed while you were working on it. Check it below; your words are kept in the form.")


def get_case(address: str) -> tuple[Case, bytes]:
    """The case and its key for the signed-in guardian (on the verified roster: ``guardian_required``). An address
    that names no case and one the guardian holds no key for get the same 403, on every page, file and form, so
    nobody can learn which cases exist by trying them. The pages link a case by its id, never its reference: the
    browser's History keeps addresses (references.case_at)."""
    opened = references.case_opened_at(address, current_user.user.id, private_key())
    if opened is None:
        abort(403)
    return opened


FORMS = {
    "status": ("status", "show_name"),
    "close": (
        "outcome",
        "closing_message",
        "learning",
        "share_learning",
        "close_show_name",
        *stage_two.PARTS,
        "named_contact",
        "response_parts",  # names the parts' error only (the error summary links to it); nothing is posted as it
    ),
    "assign": ("assignee",),
    "details": ("themes", "worker_group", "detriment"),
    "referral": ("referred_to", "referral_note"),
    "escalate": ("stage",),
    "extend": (*deadline_changes.DATE_FIELDS, "extend_reason"),
    "note": ("note",),
    "message": ("body",),
    "share": ("share_with", "override_exclusion"),
}
# The forms with words typed in them, kept sealed to the guardian's own key when a time-out stops them being sent.
WORDS = {"send_message": "message", "add_note": "note", "close": "close", "record_referral": "referral"}
WORDS["extend_deadline"] = "extend"
for _endpoint, _form in WORDS.items():
    keeps_words_at_time_out(f"guardian.{_endpoint}", f"CaseForm.{_form}", FORMS[_form])
# Every section of the page is one HTML form whose buttons each post to their own action (``formaction``), so the
# words typed in the other sections come with it: each action acts only on its own fields and keeps the others'
# words, sealed for this browser like a refused form's, under this one name ("message.body": ...), to be shown again
# after the redirect. Nothing of them is ever echoed in the answer to the POST.
PAGE = "CaseForm.page"
# The language chooser sends the whole page to its own address (speakup/web/languages.py): every section's words.
keeps_words_at_time_out("guardian.case_page", PAGE, tuple(key for name in WORDS.values() for key in FORMS[name]))
MULTIPLE = ("themes",)  # checkboxes: every value chosen is kept, not only the first
# Kept with the share form when it came back because the reporter asked for that guardian to be kept out: the page
# then offers the override. Set by the view, never read from what was posted.
EXCLUDED = "excluded"
SHARE_REFUSED = "share-refused"  # the flash that says why a share request could not be confirmed or cancelled
NEW_CODE_REFUSED = "new-code-refused"  # the flash that says why no new access code could be given
JUST_DONE = "case-section"  # the flash naming the section an action was just done in: shown open, without JavaScript


class CaseForm(DomainForm):
    """One form of the case page, named as in ``FORMS``. Its words are kept under that name when it comes back, so
    the page shows them in the form they were typed in."""

    def __init__(self, name: str):
        self.name = name
        self.field_names = (*FORMS[name], "version")
        super().__init__()
        self.lists: dict[str, list[str]] = {key: request.form.getlist(key) for key in MULTIPLE if key in FORMS[name]}

    @property
    def kept_name(self) -> str:
        return f"CaseForm.{self.name}"

    @property
    def version(self) -> int | None:
        value = self.values.get("version", "")
        return parse_int(value)

    @property
    def opens(self) -> bool:
        """Whether the page shows this form's section unfolded: it came back refused, or with words kept in it."""
        typed = any(self.values.get(key, "").strip() for key in FORMS[self.name]) or any(self.lists.values())
        return bool(self.field_errors) or typed

    def came_back(self, errors: dict[str, str], to: str | None = None) -> Response:
        """Refused: this form's words and messages kept, with the words typed in the page's other sections."""
        self.fail(errors)
        kept = {**self.values, **{key: json.dumps(chosen) for key, chosen in self.lists.items()}}
        values = {**words_elsewhere(self.name), **{f"{self.name}.{key}": value for key, value in kept.items()}}
        errors = {f"{self.name}.{key}": message for key, message in self.field_errors.items()}
        return once.keep(PAGE, values, errors, to)

    @classmethod
    def shown_as(cls, name: str, on_page: Kept | None = None) -> CaseForm:
        """The form for the case page: empty, or as it came back for this browser a moment ago (``on_page``, the
        page's kept words, or, after a time-out, this form's own)."""
        form = cls(name)
        prefix = f"{name}."
        if on_page is not None and any(key.startswith(prefix) for key in on_page.values):
            found: Kept | None = Kept(form.kept_name, _under(prefix, on_page.values), _under(prefix, on_page.errors))
        else:
            found = once.kept(form.kept_name)
        if found is not None:
            form.values.update({key: value for key, value in found.values.items() if key in form.values})
            form.values[EXCLUDED] = found.values.get(EXCLUDED, "")
            for key in form.lists:
                form.lists[key] = json.loads(form.values[key] or "[]")
                form.values[key] = ""
            form.field_errors = dict(found.errors)
        return form


def _under(prefix: str, kept: dict[str, str]) -> dict[str, str]:
    return {key.removeprefix(prefix): value for key, value in kept.items() if key.startswith(prefix)}


def words_elsewhere(acting: str | None = None) -> dict[str, str]:
    """The words posted with this press in the page's sections other than ``acting``'s ("note.note": ...), those
    that hold any."""
    return {
        f"{name}.{key}": request.form.get(key, "")
        for name in WORDS.values()
        if name != acting and any(request.form.get(key, "").strip() for key in FORMS[name])
        for key in FORMS[name]
    }


def render_case(case: Case, case_key: bytes) -> str:
    page = case_pages.guardian_case_page(case, case_key, current_user.user.id)
    on_page = once.kept(PAGE)
    forms = {name: CaseForm.shown_as(name, on_page) for name in FORMS}
    refused = get_flashed_messages(category_filter=[SHARE_REFUSED])
    return render_template(
        "guardian/case.html",
        **vars(page),
        forms=forms,
        warning="excluded" if forms["share"].values.get(EXCLUDED) else (refused[0] if refused else ""),
        new_code_refused=next(iter(get_flashed_messages(category_filter=[NEW_CODE_REFUSED])), ""),
        just_done=next(iter(get_flashed_messages(category_filter=[JUST_DONE])), ""),
    )


@bp.get("/cases/<address>")
@guardian_required
def case_page(address: str):
    return render_case(*get_case(address))


@bp.get("/cases/<address>/attachments/<uid>")
@guardian_required
def download_attachment(address: str, uid: str):
    """One of the reporter's files, decrypted in memory and sent as a download, never shown inline."""
    case, case_key = get_case(address)
    try:
        opened = files.download_attachment(case, case_key, uid, current_user.user.id)
    except files.AttachmentNotFound:
        abort(404)
    response = send_file(
        io.BytesIO(opened.data),
        mimetype=opened.content_type,
        as_attachment=True,
        # A neutral name: the reporter's own (Jane_Doe_statement.txt, a phone's PXL_20261207_...) stays sealed and is
        # shown on the case page only, never written to the guardian's Downloads folder and browser history.
        download_name=files.neutral_download_name(opened),
        conditional=False,
        etag=False,
    )
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


def case_url(case: Case, anchor: str = "") -> str:
    return url_for("guardian.case_page", address=case.id) + anchor


def _act(
    address: str,
    name: str,
    action: Callable[[Case, bytes, CaseForm], str],
    anchor: str = "",
) -> Response:
    """Runs one case action: on bad input or a conflict the case page shows the form again as typed, the message
    by its field; done, the case page says what was done (the action returns the words). Either way a redirect."""
    case, case_key = get_case(address)
    form = CaseForm(name)
    try:
        done = action(case, case_key, form)
    except InvalidInput as exc:
        errors = exc.errors
    except handling.InvalidTransition as exc:
        errors = {FORMS[name][0]: str(exc)}
    except handling.CaseChanged:
        errors = {FORMS[name][0]: str(CONFLICT)}
    else:
        return case_done(case, done, anchor, name)
    return form.came_back(errors, to=case_url(case, anchor))


def case_done(case: Case, message: str, anchor: str = "", acting: str | None = None) -> Response:
    flash(message, "case-done")  # shown once, at the top of the case page this redirects to
    if anchor:
        flash(anchor.removeprefix("#"), JUST_DONE)
    return back_to_case(case, anchor, acting)


def back_to_case(case: Case, anchor: str = "", acting: str | None = None) -> Response:
    """The redirect to the case page, the words typed in its other sections kept to be shown there again."""
    elsewhere = words_elsewhere(acting)
    if elsewhere:
        return once.keep(PAGE, elsewhere, {}, case_url(case, anchor))
    return redirect(case_url(case, anchor), 303)


def _shows_name(form: CaseForm, field: str = "show_name") -> bool:
    return form.values.get(field) == "yes"


@bp.post("/cases/<address>/status")
@guardian_required
def update_status(address: str):
    def action(case, _key, form):
        handling.change_status(case, form.values["status"], current_user.user, form.version, _shows_name(form))
        return _("Status changed to %(status)s.", status=workflow.GUARDIAN_LABELS[case.status])

    return _act(address, "status", action)


@bp.post("/cases/<address>/close")
@guardian_required
def close(address: str):
    def action(case, key, form):
        values = form.values
        handling.close_case(
            case,
            key,
            current_user.user,
            values["outcome"],
            values["closing_message"],
            form.version,
            _shows_name(form, "close_show_name"),
            learning=values["learning"],
            share_learning=values.get("share_learning") == "yes",
            response_parts=[part for part in stage_two.PARTS if values.get(part) == "yes"],
            named_contact=values.get("named_contact", ""),
        )
        return _("Case closed. The person who raised it can read your closing message and is asked for feedback.")

    return _act(address, "close", action)


@bp.post("/cases/<address>/assign")
@guardian_required
def assign(address: str):
    def action(case, _key, form):
        handling.assign_case(case, form.values["assignee"], current_user.user, form.version)
        return (
            _("Assigned to %(name)s.", name=case.assigned_to.name)
            if case.assigned_to
            else _("The case is now unassigned.")
        )

    return _act(address, "assign", action)


@bp.post("/cases/<address>/details")
@guardian_required
def record_details(address: str):
    def action(case, _key, form):
        values = form.values
        handling.record_for_return(
            case, form.lists["themes"], values["worker_group"], values["detriment"], current_user.user, form.version
        )
        return _("Details for the national return saved.")

    return _act(address, "details", action)


@bp.post("/cases/<address>/referral")
@guardian_required
def record_referral(address: str):
    def action(case, key, form):
        values = form.values
        referrals.record_referral(
            case, key, current_user.user, values["referred_to"], values["referral_note"], form.version
        )
        return _("Referral saved.")

    return _act(address, "referral", action, "#referral")


@bp.post("/cases/<address>/escalate")
@guardian_required
def escalate(address: str):
    def action(case, _key, form):
        deadline_changes.escalate_to_stage_2(case, current_user.user, form.version)
        return _("Moved to stage 2. Respond by %(date)s.", date=dates.written(case.feedback_by))

    return _act(address, "escalate", action, "#deadlines")


@bp.post("/cases/<address>/extend")
@guardian_required
def extend_deadline(address: str):
    def action(case, key, form):
        values = form.values
        new_date = deadline_changes.parse_date(*(values[name] for name in deadline_changes.DATE_FIELDS))
        deadline_changes.extend_deadline(case, key, current_user.user, new_date, values["extend_reason"], form.version)
        return _("Deadline moved to %(date)s. The person who raised this can read why.", date=dates.written(new_date))

    return _act(address, "extend", action, "#deadlines")


@bp.post("/cases/<address>/notes")
@guardian_required
def add_note(address: str):
    def action(case, key, form):
        handling.add_note(case, key, current_user.user, form.values["note"])
        return _("Note added.")

    return _act(address, "note", action, "#notes")


@bp.post("/cases/<address>/messages")
@guardian_required
def send_message(address: str):
    def action(case, key, form):
        handling.post_message(case, key, Author.GUARDIAN, form.values["body"], guardian=current_user.user)
        return _("Message sent. The person who raised this reads it with their access code.")

    return _act(address, "message", action, "#messages")
