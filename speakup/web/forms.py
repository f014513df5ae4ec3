"""Form plumbing shared by every page: CSRF, field values, and errors from the domain's rules."""

from __future__ import annotations

from flask import request
from flask_wtf import FlaskForm


class DomainForm(FlaskForm):
    """A form whose rules live in the domain layer (``speakup.domain``), not in the form.

    It carries the CSRF token, keeps what the person typed, and holds the domain's error messages
    in field order so the template can show them next to each field and in the summary.
    """

    field_names: tuple[str, ...] = ()

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.values: dict[str, str] = {name: request.form.get(name, "") for name in self.field_names}
        self.field_errors: dict[str, str] = {}

    def fail(self, errors: dict[str, str]) -> None:
        self.field_errors = {name: errors[name] for name in self.field_names if name in errors}
        for name, message in errors.items():
            self.field_errors.setdefault(name, message)
