"""Form plumbing shared by every page: field values, and errors from the domain's rules.

The CSRF token and the form's one-time nonce are checked before any view runs (speakup/web/once.py). A form that
comes back with errors is answered with a redirect; the page it leads to builds the form from what was kept.
"""

from __future__ import annotations

from flask import request
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response

from speakup.platform.form_posts import Kept
from speakup.web import once


class DomainForm(FlaskForm):
    """A form whose rules live in the domain layer (``speakup.domain``), not in the form.

    It keeps what the person typed and holds the domain's error messages in field order so the template can show
    them next to each field and in the summary.
    """

    class Meta:
        csrf = False  # checked with the nonce, before the view (once.py)

    field_names: tuple[str, ...] = ()
    kept_as: str = ""  # the name its words are kept under; the class name by default

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        source = request.form if request.method == "POST" else {}
        self.values: dict[str, str] = {name: source.get(name, "") for name in self.field_names}
        self.field_errors: dict[str, str] = {}

    @classmethod
    def form_name(cls) -> str:
        return cls.kept_as or cls.__name__

    @classmethod
    def shown(cls) -> DomainForm:
        """The form for a page: empty, or as it came back with errors for this browser a moment ago."""
        return cls.from_kept(once.kept(cls.form_name()))

    @classmethod
    def from_kept(cls, found: Kept | None) -> DomainForm:
        """The form as it was kept (``once.kept``), or empty."""
        form = cls()
        if found is not None:
            form.values.update({name: value for name, value in found.values.items() if name in form.values})
            form.field_errors = dict(found.errors)
        return form

    def fail(self, errors: dict[str, str]) -> None:
        # str(): a message made at import is lazily translated (issue 28); it is kept as this request's words.
        self.field_errors = {name: str(errors[name]) for name in self.field_names if name in errors}
        for name, message in errors.items():
            self.field_errors.setdefault(name, str(message))

    def came_back(self, errors: dict[str, str], to: str | None = None) -> Response:
        """The answer to this form when it failed: its words and ``errors`` kept, and a redirect to its page."""
        self.fail(errors)
        return once.keep(self.form_name(), self.values, self.field_errors, to)
