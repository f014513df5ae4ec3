"""The fault rules in-process, no servers needed (tests/system/test_faults.py stops real ones): a rate-limit store
that refuses every connection fails sign-in and access codes closed and raising open; a database that fails answers
503 without losing the excluded guardian a person chose, and its waits are bounded by the configured timeouts."""

from __future__ import annotations

import re

import pytest

from speakup.crypto import access_codes

# Each test breaks the app's stores on purpose (a limit store nothing listens on, a failing engine): an app of its own.
pytestmark = pytest.mark.fresh_app


def _bearer(code: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {code}"}


NOTHING_LISTENS = "redis://127.0.0.1:1/0"  # port 1: the connection is refused at once


@pytest.fixture
def app_overrides(request: pytest.FixtureRequest) -> dict[str, object]:
    """The tests named ``..._limit_store_...`` get a rate-limit store that refuses every connection."""
    if "_limit_store_" in request.node.name:
        return {"RATELIMIT_STORAGE_URI": NOTHING_LISTENS, "RATELIMIT_STORAGE_TIMEOUT": 1}
    return {}


def test_limit_store_down_sign_in_and_access_codes_fail_closed(client, guardian) -> None:
    from support.factories import gen_concern
    from support.html import csrf_token

    api = client.get("/api/v1/follow-up", headers=_bearer(access_codes.new_access_code()))
    assert api.status_code == 503 and api.get_json()["error"]["code"] == "unavailable"
    assert int(api.headers["Retry-After"]) > 0

    token = csrf_token(client, "/follow-up")
    code = access_codes.new_access_code()
    sent = client.post("/follow-up", data={"csrf_token": token, "access_code": code})
    # A redirect back to the form (for the shared computer) that says when to try again; the form's page says why.
    assert sent.status_code == 303 and sent.headers["Location"] == "/follow-up"
    assert int(sent.headers["Retry-After"]) > 0 and code not in sent.get_data(as_text=True)
    page = client.get("/follow-up")
    text = page.get_data(as_text=True)
    assert page.status_code == 200 and "We cannot check access codes just now" in text
    assert code not in text and 'name="access_code"' in text

    token = csrf_token(client, "/guardian/sign-in")
    sent = client.post(
        "/guardian/sign-in",
        data={"csrf_token": token, "email": guardian.email, "password": guardian.password, "security_code": "1"},
    )
    # A redirect back to the sign-in page (for the shared computer), whose page says so and keeps the email address
    # alone.
    assert sent.status_code == 303 and sent.headers["Location"] == "/guardian/sign-in"
    assert guardian.email not in sent.get_data(as_text=True) and guardian.password not in sent.get_data(as_text=True)
    page = client.get(sent.headers["Location"])  # the page itself counts nothing
    text = page.get_data(as_text=True)
    assert page.status_code == 200 and "We cannot check sign-ins just now" in text
    assert f'value="{guardian.email}"' in text and guardian.password not in text

    # Raising a concern fails open, on the API and the form.
    assert gen_concern(client)["access_code"]
    token = csrf_token(client, "/raise")
    fields = {"csrf_token": token, "what_happened": "Still heard", "anonymity": "anonymous"}
    page = client.post("/raise", data=fields, follow_redirects=True)
    assert page.status_code == 200 and 'id="access-code"' in page.get_data(as_text=True)


def test_limit_store_error_inside_a_fail_open_view_is_not_retried(client, monkeypatch) -> None:
    """fail_open() forgives only the limit check: a view that has started never runs a second time."""
    from limits.errors import StorageError

    from speakup.domain import raising

    calls = []

    def failing(concern, **_options):
        calls.append(concern)
        raise StorageError(ConnectionError("refused"))

    monkeypatch.setattr(raising, "raise_concern", failing)
    answer = client.post("/api/v1/concerns", json={"what_happened": "Once only", "anonymity": "anonymous"})
    assert answer.status_code == 503 and len(calls) == 1


def _database_fails(app, message: str = "server closed the connection unexpectedly"):
    from sqlalchemy import event

    from speakup.platform.models import db

    with app.app_context():
        engine = db.engine
    error = engine.dialect.loaded_dbapi.OperationalError

    def fail(conn, cursor, statement, *args):
        raise error(message)

    event.listen(engine, "before_cursor_execute", fail)
    return lambda: event.remove(engine, "before_cursor_execute", fail)


def test_database_down_keeps_the_excluded_guardian_and_answers_signed_in_pages(app, client, guardian) -> None:
    from support.html import AuthActions, csrf_token

    token = csrf_token(client, "/raise")
    restore = _database_fails(app)
    try:
        page = client.post(
            "/raise",
            data={
                "csrf_token": token,
                "what_happened": "About a guardian",
                "anonymity": "anonymous",
                "exclude_guardian": str(guardian.id),
            },
        )
    finally:
        restore()
    text = page.get_data(as_text=True)
    assert page.status_code == 503 and "About a guardian" in text
    # Sending the form again must not drop the exclusion the person chose.
    assert re.search(rf'<option value="{guardian.id}" selected>', text)

    staff = app.test_client()
    assert AuthActions(staff).sign_in(guardian).status_code == 303
    restore = _database_fails(app)
    try:
        queue = staff.get("/guardian/")
    finally:
        restore()
    assert queue.status_code == 503 and "Sorry, the service is unavailable" in queue.get_data(as_text=True)


def test_database_waits_are_bounded_by_the_configured_timeouts(app) -> None:
    """SPEAKUP_DATABASE_CONNECT_TIMEOUT and SPEAKUP_DATABASE_STATEMENT_TIMEOUT reach the driver and server."""
    from sqlalchemy import text

    from speakup.platform.models import db

    options = app.config["SQLALCHEMY_ENGINE_OPTIONS"]
    timeout = app.config["DATABASE_CONNECT_TIMEOUT"]
    if not app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql"):
        assert options["connect_args"]["timeout"] == timeout  # SQLite's wait for a locked file
        return
    assert options["connect_args"]["connect_timeout"] == timeout
    assert options["pool_timeout"] == timeout
    with app.app_context():
        shown = db.session.execute(text("SHOW statement_timeout")).scalar()
    assert shown == f"{app.config['DATABASE_STATEMENT_TIMEOUT']}s"


def test_a_database_that_cannot_even_roll_back_still_gets_a_503(app, client, guardian, monkeypatch) -> None:
    """The database fails a statement and then the rollback too (it went away between them): the answer is
    still the 503, not an exception out of the request's teardown (which gunicorn turns into a bare 500)."""
    from support.html import AuthActions, csrf_token

    from speakup.platform.models import db

    staff = app.test_client()
    assert AuthActions(staff).sign_in(guardian).status_code == 303
    token = csrf_token(client, "/raise")
    with app.app_context():
        dialect = db.engine.dialect
    error = dialect.loaded_dbapi.OperationalError

    def rollback_fails(_dbapi_connection):
        raise error("the connection went away during the rollback")

    restore = _database_fails(app, message="canceling statement: the server is shutting down")
    monkeypatch.setattr(dialect, "do_rollback", rollback_fails)
    try:
        api = client.post("/api/v1/concerns", json={"what_happened": "Kept safe", "anonymity": "anonymous"})
        page = client.post("/raise", data={"csrf_token": token, "what_happened": "Kept", "anonymity": "anonymous"})
        queue = staff.get("/guardian/")
    finally:
        restore()
        monkeypatch.undo()
    assert api.status_code == 503 and api.get_json()["error"]["code"] == "unavailable"
    assert page.status_code == 503 and "Kept" in page.get_data(as_text=True)
    assert queue.status_code == 503
    # The connections that could not roll back were dropped, not pooled: the next request is served.
    assert client.get("/api/v1/options").status_code == 200
    assert staff.get("/guardian/").status_code == 200
