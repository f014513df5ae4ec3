"""The guardian's case page as the casework tests use it (tests/web/casework/): its forms sent as a browser sends
them, what each page shows read back, and what the database and the audit trail hold for a case."""

from __future__ import annotations

import html
import re
from datetime import date
from types import SimpleNamespace
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select, update
from werkzeug.test import TestResponse

from speakup.domain import handling
from speakup.ops import audit
from speakup.platform import clock
from speakup.platform.models import Case, CaseEvent, CaseNote, Message, db
from support.html import CSRF_RE, VERSION_RE, case_address
from support.lifecycle import ROUTE
from support.present import found, scalar

CONFLICT = "This case changed while you were working on it"
CLOSING = "We spoke to the ward manager and the rota now has two nurses on nights."


def case_url(reference: str, action: str = "") -> str:
    return f"/guardian/cases/{reference}" + (f"/{action}" if action else "")


def text_of(response: TestResponse) -> str:
    return html.unescape(response.get_data(as_text=True))


def load_form(client: FlaskClient, reference: str) -> dict[str, str]:
    """Loads the case page as a browser would: the CSRF token and the version every form on it carries."""
    response = client.get(case_url(reference))
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    versions = set(VERSION_RE.findall(page))
    assert len(versions) == 1, versions
    return {"csrf_token": found(CSRF_RE, page), "version": versions.pop()}


def act(
    client: FlaskClient, reference: str, action: str, loaded: dict[str, str] | None = None, **data: object
) -> TestResponse:
    """Submits one form of the case page: from a fresh load, or from ``loaded``, a page loaded earlier."""
    return client.post(case_url(reference, action), data={**(loaded or load_form(client, reference)), **data})


def was_done(client: FlaskClient, response: TestResponse) -> bool:
    """Whether a form was done: answered with a redirect (303) to a page with no refused form on it."""
    if response.status_code != 303:
        return False
    page = text_of(client.get(response.location))
    return "There is a problem" not in page and 'id="form-refused"' not in page


def came_back(client: FlaskClient, response: TestResponse) -> str:
    """A form refused by the rules: answered with a redirect (303), never a page that echoes it (issue 24); the
    page it leads to shows the message by the field and what was typed."""
    assert response.status_code == 303, response.status_code
    return text_of(client.get(response.location))


def move(client: FlaskClient, reference: str, status: str, **data: Any) -> None:
    response = act(client, reference, "status", status=status, **data)
    assert response.status_code == 303
    assert field_error(text_of(client.get(response.location)), "status") is None


def close(
    client: FlaskClient, reference: str, outcome: str = "resolved", closing_message: str = CLOSING, **data: Any
) -> TestResponse:
    response = act(client, reference, "close", outcome=outcome, closing_message=closing_message, **data)
    assert was_done(client, response)
    return response


def bring_to(client: FlaskClient, reference: str, status: str) -> None:
    if status == "closed":
        move(client, reference, "acknowledged")
        close(client, reference)
        return
    for step in ROUTE[status]:
        move(client, reference, step)


def field_error(page: str, name: str) -> str | None:
    """The message shown next to a field (the design system's error message), or None."""
    match = re.search(rf'id="{name}-error"><span class="nhsuk-u-visually-hidden">Error:</span> (.*?)</span>', page)
    return match.group(1) if match else None


def textarea_value(page: str, name: str) -> str | None:
    match = re.search(rf'<textarea [^>]*id="{name}" name="{name}"[^>]*>(.*?)</textarea>', page, re.S)
    return match.group(1) if match else None


def selected(page: str, name: str) -> str | None:
    match = re.search(rf'<select [^>]*id="{name}" name="{name}"[^>]*>(.*?)</select>', page, re.S)
    assert match, f"no select {name}"
    chosen = re.findall(r'<option value="([^"]*)" selected>', match.group(1))
    return chosen[0] if chosen else None


def status_tag(page: str) -> str:
    return found(r'id="case-status">([^<]*)<', page)


def summary_value(page: str, key: str) -> str:
    match = re.search(
        rf'<dt class="nhsuk-summary-list__key">{re.escape(key)}</dt><dd class="nhsuk-summary-list__value">(.*?)</dd>',
        page,
    )
    assert match, f"no summary row {key}"
    return match.group(1)


def follow_up_json(app: Flask, code: str) -> dict:
    response = app.test_client().get("/api/v1/follow-up", headers={"Authorization": f"Bearer {code}"})
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    return response.get_json()


def reporter_page(browser: FlaskClient) -> str:
    response = browser.get("/follow-up/case")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    return text_of(response)


def timeline_of(page: str) -> list[str]:
    """The reporter's timeline entries, without their dates ("1 May 2026 at 14:05: Concern raised")."""
    block = found(r'<ul class="nhsuk-list" id="timeline">(.*?)</ul>', page, re.S)
    return [entry.split(": ", 1)[1] for entry in re.findall(r"<li>(.*?)</li>", block, re.S)]


def stored(app: Flask, reference: str) -> SimpleNamespace:
    """What the database holds for a case now."""
    with app.app_context():
        case = scalar(select(Case).where(Case.reference == reference))
        count = lambda model: db.session.scalar(  # noqa: E731
            select(func.count()).select_from(model).where(model.case_id == case.id)
        )
        return SimpleNamespace(
            id=case.id,
            status=case.status,
            version=case.version,
            outcome=case.outcome,
            closed_at=case.closed_at,
            next_due=case.next_due,
            assigned_to_id=case.assigned_to_id,
            worker_group=case.worker_group,
            detriment_reported=case.detriment_reported,
            speak_up_again=case.speak_up_again,
            feedback_at=case.feedback_at,
            themes=[theme.theme for theme in case.themes],
            events=count(CaseEvent),
            messages=count(Message),
            notes=count(CaseNote),
        )


def trail(app: Flask, reference: str) -> list[SimpleNamespace]:
    with app.app_context():
        case_id = scalar(select(Case.id).where(Case.reference == reference))
        return [
            SimpleNamespace(action=e.action, actor_type=e.actor_type, actor_id=e.actor_id, detail=audit.detail_of(e))
            for e in audit.case_trail(case_id)
        ]


def set_case(app: Flask, reference: str, **values: object) -> None:
    with app.app_context():
        db.session.execute(update(Case).where(Case.reference == reference).values(**values))
        db.session.commit()


def london_today() -> date:
    return clock.uk_today()


# --- The queue ---------------------------------------------------------------------------------------


HEADING_RE = re.compile(r'<span class="nhsuk-table-responsive__heading"[^>]*>[^<]*</span>')


def cell_text(cell: str) -> str:
    """A table cell as a person reads it: without the small-screen heading, tags or extra spaces."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", HEADING_RE.sub("", cell))).split())


def queue_rows(client: FlaskClient, **filters: object) -> list[dict[str, str]]:
    response = client.get("/guardian/", query_string=filters)
    assert response.status_code == 200, filters
    assert response.headers["Cache-Control"] == "no-store"
    rows = []
    for row in re.findall(r'<tr class="nhsuk-table__row">(.*?)</tr>', response.get_data(as_text=True), re.S):
        cells = re.findall(r'<td class="nhsuk-table__cell">(.*?)</td>', row, re.S)
        plain = [cell_text(cell) for cell in cells]
        link = re.search(r'<a href="(/guardian/cases/[^"]+)">([^<]+)</a>', cells[0])
        # The row links the case it names, by the case's id: never by its reference, which History would keep.
        assert link and link.group(1) == case_address(client.application, link.group(2))
        rows.append(
            dict(zip(("reference", "received", "status", "assigned", "themes", "deadline"), plain, strict=True))
        )
    return rows


def refs(rows: list[dict[str, str]]) -> list[str]:
    return [row["reference"] for row in rows]


# --- Races -------------------------------------------------------------------------------------------


def race_at(monkeypatch: pytest.MonkeyPatch, app: Flask, ref: str, after: str, **changes: object) -> None:
    """Lets another guardian's change commit just after this request read the case and passed ``handling.<after>``,
    and before it writes: a real race, which only the version column in the UPDATE can catch."""
    original = getattr(handling, after)

    def then_someone_else_writes(*args: Any, **kwargs: Any) -> Any:
        result = original(*args, **kwargs)
        monkeypatch.setattr(handling, after, original)  # once
        with db.engine.begin() as connection:
            connection.execute(update(Case).where(Case.reference == ref).values(version=Case.version + 1, **changes))
        return result

    monkeypatch.setattr(handling, after, then_someone_else_writes)
