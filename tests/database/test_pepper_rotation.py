"""Rotating the server pepper (SPEAKUP_TOKEN_PEPPER): `speakup rotate-pepper` makes a new one and writes the two lines
for the environment file, the old pepper kept as a fallback. After a restart with them, everything a person holds
from before (an access code, a stats token, an enrolment link) still works, what is written from then on uses the new
pepper, a guardian's account is sealed again under it at their next sign-in, and the audit chain verifies across the
switch. Production refuses to start with a stale pepper."""

from __future__ import annotations

import json
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select, update
from support.apps import TEST_CONFIG, install_organisation_keys, make_app
from support.environment import read_environment_lines
from support.factories import Staff, gen_concern
from support.html import AuthActions, csrf_token, following_up, post_form
from support.present import scalar

from speakup import create_app
from speakup.crypto import sealing
from speakup.domain import characteristics, enrolment, staff
from speakup.ops import audit
from speakup.platform import transactions
from speakup.platform.models import AuditEvent, Case, CharacteristicsAnswered, User, db
from speakup.reporting import stats_tokens
from speakup.settings import ConfigurationError, check_audit_pepper


def rotate(runner, output: Path) -> tuple[str, list[str]]:
    done = runner.invoke(args=["speakup", "rotate-pepper", "--output", str(output)])
    assert done.exit_code == 0, done.output
    assert stat.S_IMODE(output.stat().st_mode) == 0o600
    lines = read_environment_lines(output.read_text())
    assert set(lines) == {"SPEAKUP_TOKEN_PEPPER", "SPEAKUP_TOKEN_PEPPER_FALLBACKS"}
    assert lines["SPEAKUP_TOKEN_PEPPER"] not in done.output  # the secret is in the file, never on the screen
    return lines["SPEAKUP_TOKEN_PEPPER"], json.loads(lines["SPEAKUP_TOKEN_PEPPER_FALLBACKS"])


def restarted(app: Flask, **settings: object) -> Flask:
    """The same installation started again with new settings (the environment file edited): a new app on the same
    database and roster anchor, nothing emptied."""
    keep = ("SQLALCHEMY_DATABASE_URI", "ROSTER_ANCHOR_FILE", "ROSTER_ROOT")
    again = create_app({**TEST_CONFIG, **{key: app.config[key] for key in keep}, **settings})
    for key in ("TEST_RECOVERY_PRIVATE_KEY", "TEST_ROSTER_SIGNING_KEY"):
        again.config[key] = app.config[key]
    return again


@pytest.fixture
def apps() -> Iterator[list[Flask]]:
    made: list[Flask] = []
    yield made
    for app in made:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


def _opens(app: Flask, code: str) -> int:
    return app.test_client().get("/api/v1/follow-up", headers={"Authorization": f"Bearer {code}"}).status_code


def _send_with_key(app: Flask, body: dict[str, str]):
    headers = {"Idempotency-Key": "6f1c9f3e-2b8a-4c57-9d0e-8a1b2c3d4e5f"}
    answer = app.test_client(use_cookies=False).post("/api/v1/concerns", json=body, headers=headers)
    assert answer.status_code == 201, answer.get_json()
    return answer


def _moved(browser: FlaskClient, app: Flask) -> FlaskClient:
    """The same browser (its cookies) talking to the restarted app."""
    moved = app.test_client()
    for cookie in (browser._cookies or {}).values():
        moved.set_cookie(cookie.key, cookie.value, domain=cookie.domain, path=cookie.path)
    return moved


def _pepper_id_of(app: Flask, email: str) -> str | None:
    with app.app_context():
        return db.session.scalar(select(User.kdf_pepper_id).where(User.email == email))


def test_the_journey_goes_on_after_a_rotation(app: Flask, client, runner, guardian: Staff, admin_client, apps,
                                              tmp_path):  # fmt: skip
    old_pepper = app.config["TOKEN_PEPPER_BYTES"]
    before = gen_concern(client, what_happened="Zebra-7201 raised before the rotation", anonymity="confidential",
                         name="Sam Nurse", contact="sam@example.org")  # fmt: skip
    with app.app_context():
        _row, stats_token = stats_tokens.create_stats_token("dashboard", old_pepper)
        administrator = scalar(select(User).where(User.email == "admin@example.org"))
        link = staff.invite_user("newcomer@example.org", "New Comer", "admin", administrator)
        link_token = link.token
        transactions.commit()
    kept = {"what_happened": "Zebra-7203 sent with a key", "anonymity": "anonymous"}
    first = _send_with_key(app, kept)
    reporter = following_up(app, before["access_code"])  # a follow-up session open across the rotation
    anchors = tmp_path / "anchors"
    assert runner.invoke(args=["speakup", "audit", "anchor", "--file", str(anchors)]).exit_code == 0
    old_id = _pepper_id_of(app, guardian.email)

    new_pepper, fallbacks = rotate(runner, tmp_path / "pepper.env")
    assert new_pepper.encode() != old_pepper and len(new_pepper) >= 64 and fallbacks == [old_pepper.decode()]
    assert _pepper_id_of(app, guardian.email) == sealing.pepper_id(old_pepper)  # recorded where it was unset
    assert old_id in (None, sealing.pepper_id(old_pepper))

    after = restarted(app, TOKEN_PEPPER=new_pepper, TOKEN_PEPPER_FALLBACKS=fallbacks)
    apps.append(after)
    guardian_browser = AuthActions(after.test_client()).signed_in(guardian)
    assert _pepper_id_of(after, guardian.email) == sealing.pepper_id(new_pepper.encode())  # sealed again under it
    AuthActions(after.test_client()).signed_in(guardian)  # and a second sign-in works
    with after.app_context():
        case_id = scalar(select(Case.id).where(Case.reference == before["reference"]))
    case_url = f"/guardian/cases/{case_id}"
    assert "Zebra-7201 raised before the rotation" in guardian_browser.get(case_url).get_data(as_text=True)

    # A session opened before goes on, and a kept submission is answered again, not raised twice.
    assert "Zebra-7201" in _moved(reporter, after).get("/follow-up/case").get_data(as_text=True)
    again = _send_with_key(after, kept)
    assert again.headers.get("Idempotent-Replayed") == "true" and again.get_json() == first.get_json()

    # The reporter follows up with the code from before, and a new concern's code works too.
    page = following_up(after, before["access_code"]).get("/follow-up/case").get_data(as_text=True)
    assert "Zebra-7201 raised before the rotation" in page
    new_concern = gen_concern(after.test_client(), what_happened="Zebra-7202 raised after the rotation")
    assert _opens(after, new_concern["access_code"]) == 200 and _opens(after, before["access_code"]) == 200

    # A guardian gives the old case a new code: only it works.
    given = post_form(guardian_browser, case_url, f"{case_url}/new-access-code")
    assert given.status_code == 303
    from support.html import ACCESS_CODE_RE, found

    new_code = found(ACCESS_CODE_RE, guardian_browser.get(given.location).get_data(as_text=True))
    assert _opens(after, new_code) == 200 and _opens(after, before["access_code"]) == 401
    assert _moved(reporter, after).get("/follow-up/case").status_code in (302, 303)  # its code was replaced

    # Tokens and links made before still work.
    stats = after.test_client().get("/api/v1/stats", headers={"Authorization": f"Bearer {stats_token}"})
    assert stats.status_code != 401
    with after.app_context():
        assert enrolment.open_link(link_token).user.email == "newcomer@example.org"

    for command in (["speakup", "audit", "verify"], ["speakup", "audit", "verify", "--anchor", str(anchors)]):
        verified = after.test_cli_runner().invoke(args=command)
        assert verified.exit_code == 0 and "intact" in verified.output, verified.output
    with after.app_context():
        rotated = db.session.scalars(select(AuditEvent).where(AuditEvent.action == audit.Action.PEPPER_ROTATED)).one()
        assert audit.detail_of(rotated) == {
            "old_pepper": sealing.pepper_id(old_pepper),
            "new_pepper": sealing.pepper_id(new_pepper.encode()),
        }
    # The old environment (the fallback forgotten) verifies nothing written since; production would not start.
    with app.app_context():
        assert audit.check_chain().broken is not None
        with pytest.raises(ConfigurationError, match="TOKEN_PEPPER"):
            check_audit_pepper(app)
    with after.app_context():
        check_audit_pepper(after)  # the new environment starts


def test_the_rotation_refuses_a_broken_chain_and_an_existing_file(app: Flask, client, runner, tmp_path):
    gen_concern(client)
    taken = tmp_path / "taken.env"
    taken.write_text("something else")
    refused = runner.invoke(args=["speakup", "rotate-pepper", "--output", str(taken)])
    assert refused.exit_code != 0 and "already exists" in refused.output and taken.read_text() == "something else"
    with app.app_context():
        first = db.session.scalars(select(AuditEvent).order_by(AuditEvent.id)).one()
        first.detail = '{"count":2}'
        transactions.commit()
    refused = runner.invoke(args=["speakup", "rotate-pepper", "--output", str(tmp_path / "new.env")])
    assert refused.exit_code != 0 and "audit chain" in refused.output and not (tmp_path / "new.env").exists()
    with app.app_context():
        assert not db.session.scalars(select(AuditEvent).where(AuditEvent.action == "pepper_rotated")).all()


def _signs_in(app: Flask, guardian: Staff) -> bool:
    steps = guardian.steps_used
    answer = AuthActions(app.test_client()).sign_in(guardian)
    signed = answer.status_code == 303 and not answer.location.endswith("/guardian/sign-in")
    if not signed:
        guardian.steps_used = steps  # its security code was never checked, so not used up
    return signed


def _set_pepper_id(app: Flask, email: str, value: str | None) -> None:
    with app.app_context():
        db.session.execute(update(User).where(User.email == email).values(kdf_pepper_id=value))
        db.session.commit()


def test_a_database_writer_changing_an_accounts_pepper_only_stops_its_sign_in(app: Flask, runner, guardian: Staff,
                                                                              apps, tmp_path, caplog):  # fmt: skip
    old = app.config["TOKEN_PEPPER_BYTES"]
    new, fallbacks = rotate(runner, tmp_path / "pepper.env")
    after = restarted(app, TOKEN_PEPPER=new, TOKEN_PEPPER_FALLBACKS=fallbacks)
    apps.append(after)
    # Every value the column can be given but the true one (the account is sealed under the old pepper still).
    for value in (None, sealing.pepper_id(new.encode()), "0" * 32, sealing.pepper_id(b"a pepper never configured")):
        _set_pepper_id(after, guardian.email, value)
        caplog.clear()
        assert not _signs_in(after, guardian), value
        assert _pepper_id_of(after, guardian.email) == value  # nothing sealed again under a wrong pepper
        unknown = [r for r in caplog.records if r.getMessage().startswith("Account pepper unknown")]
        assert len(unknown) == (1 if value in ("0" * 32, sealing.pepper_id(b"a pepper never configured")) else 0)
        assert all(r.levelname == "ERROR" and "SPEAKUP_TOKEN_PEPPER_FALLBACKS" in r.getMessage() for r in unknown)
    _set_pepper_id(after, guardian.email, sealing.pepper_id(old))
    assert _signs_in(after, guardian)
    assert _pepper_id_of(after, guardian.email) == sealing.pepper_id(new.encode())
    # Sealed under the new pepper now: the old one is no longer needed for this account, nor accepted for it.
    _set_pepper_id(after, guardian.email, sealing.pepper_id(old))
    assert not _signs_in(after, guardian)
    _set_pepper_id(after, guardian.email, sealing.pepper_id(new.encode()))
    assert _signs_in(after, guardian)


def test_an_old_pepper_dropped_from_the_fallbacks_refuses_the_accounts_still_under_it(app, runner, guardian, apps,
                                                                                      tmp_path, caplog):  # fmt: skip
    new, _fallbacks = rotate(runner, tmp_path / "pepper.env")
    after = restarted(app, TOKEN_PEPPER=new, TOKEN_PEPPER_FALLBACKS=[])
    apps.append(after)
    assert not _signs_in(after, guardian)
    assert any(r.getMessage().startswith("Account pepper unknown") for r in caplog.records)


# --- Settings and start-up -------------------------------------------------------------------------------------------

PRODUCTION = {"SECRET_KEY": "k" * 40, "TOKEN_PEPPER": "p" * 40}


def test_production_refuses_to_start_with_the_pepper_the_rotation_replaced(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path}/installed.sqlite"
    app = make_app(url, TOKEN_PEPPER=PRODUCTION["TOKEN_PEPPER"])
    install_organisation_keys(app)
    root = app.config["ROSTER_ROOT"]
    with app.app_context():
        audit.record(audit.Action.EXPORT, audit.Actor.ADMIN, 1, count=1, format="csv")
        db.session.commit()
    assert create_app({"SQLALCHEMY_DATABASE_URI": url, "ROSTER_ROOT": root, **PRODUCTION})  # before: it starts
    new, fallbacks = rotate(app.test_cli_runner(), tmp_path / "pepper.env")
    with app.app_context():
        db.engine.dispose()

    with pytest.raises(ConfigurationError) as refused:  # the environment file not updated
        create_app({"SQLALCHEMY_DATABASE_URI": url, "ROSTER_ROOT": root, **PRODUCTION})
    assert "SPEAKUP_TOKEN_PEPPER_FALLBACKS" in str(refused.value) and "rotate-pepper" in str(refused.value)
    with pytest.raises(ConfigurationError, match="SPEAKUP_TOKEN_PEPPER_FALLBACKS does not hold the pepper"):
        create_app({"SQLALCHEMY_DATABASE_URI": url, "ROSTER_ROOT": root, **PRODUCTION, "TOKEN_PEPPER": new})
    # Both lines, from the environment as the file gives them: it starts.
    monkeypatch.setenv("SPEAKUP_TOKEN_PEPPER", new)
    monkeypatch.setenv("SPEAKUP_TOKEN_PEPPER_FALLBACKS", json.dumps(fallbacks))
    started = create_app({"SQLALCHEMY_DATABASE_URI": url, "ROSTER_ROOT": root, "SECRET_KEY": "k" * 40})
    assert started.config["TOKEN_PEPPER_FALLBACK_BYTES"] == (PRODUCTION["TOKEN_PEPPER"].encode(),)
    with started.app_context():
        assert audit.check_chain().broken is None
        db.engine.dispose()


@pytest.mark.parametrize("fallbacks", ['"one"', "[1]", '[""]', '{"a": 1}', '["same", "same"]', '["current"]'])
def test_fallbacks_must_be_a_list_of_other_peppers(tmp_path, monkeypatch, fallbacks):
    monkeypatch.setenv("SPEAKUP_TOKEN_PEPPER_FALLBACKS", fallbacks)
    with pytest.raises(ConfigurationError, match="SPEAKUP_TOKEN_PEPPER_FALLBACKS"):
        create_app({**TEST_CONFIG, "TOKEN_PEPPER": "current", "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/x"})


def test_a_form_opened_before_a_rotation_is_still_taken_once_and_a_signed_out_browser_stays_out(
    app: Flask, client, runner, apps, tmp_path
):
    raised = gen_concern(client)
    browser = app.test_client()
    token = csrf_token(browser, "/follow-up")  # the page is open when the service stops
    gone = following_up(app, raised["access_code"])
    gone_token = csrf_token(gone, "/follow-up/case")
    copied = _moved(gone, app)  # someone kept a copy of its cookie
    assert post_form(gone, "/follow-up/case", "/follow-up/sign-out").status_code == 303
    new, fallbacks = rotate(runner, tmp_path / "pepper.env")
    after = restarted(app, TOKEN_PEPPER=new, TOKEN_PEPPER_FALLBACKS=fallbacks)
    apps.append(after)

    moved = _moved(browser, after)
    sent = moved.post("/follow-up", data={"csrf_token": token, "access_code": raised["access_code"]})
    assert sent.status_code == 303 and sent.location.startswith("/follow-up/case"), sent.location
    again = moved.post("/follow-up", data={"csrf_token": token, "access_code": raised["access_code"]})
    assert again.status_code == 303 and again.location == sent.location  # answered as the first, not done again
    # The signed-out browser's form nonces stay refused, whoever kept a copy of its cookie.
    replay = _moved(copied, after).post(
        "/follow-up", data={"csrf_token": gone_token, "access_code": raised["access_code"]}
    )
    assert replay.status_code == 303 and not replay.location.startswith("/follow-up/case"), replay.location


def test_the_rotation_rekeys_which_cases_answered_and_drops_markers_of_no_case(app: Flask, client, runner, apps,
                                                                               tmp_path):  # fmt: skip
    old = app.config["TOKEN_PEPPER_BYTES"]
    raised, other = gen_concern(client), gen_concern(client)
    with app.app_context():
        answered_id = scalar(select(Case.id).where(Case.reference == raised["reference"]))
        other_id = scalar(select(Case.id).where(Case.reference == other["reference"]))
        db.session.add_all(
            [CharacteristicsAnswered(lookup=characteristics.marker(answered_id)),
             CharacteristicsAnswered(lookup=characteristics.marker(2**31 + 5))]  # its case is gone
        )  # fmt: skip
        db.session.commit()
    new, fallbacks = rotate(runner, tmp_path / "pepper.env")
    after = restarted(app, TOKEN_PEPPER=new, TOKEN_PEPPER_FALLBACKS=fallbacks)
    apps.append(after)
    with after.app_context():
        markers = set(db.session.scalars(select(CharacteristicsAnswered.lookup)))
        assert markers == {sealing.keyed_hash(new.encode(), str(answered_id), characteristics.MARKER_PURPOSE)}
        assert characteristics.answered(db.session.get_one(Case, answered_id))
        assert not characteristics.answered(db.session.get_one(Case, other_id))
        assert not markers & set(sealing.keyed_hashes([old], str(answered_id), characteristics.MARKER_PURPOSE))


def test_a_process_left_with_the_old_pepper_adds_nothing_to_the_chain(app: Flask, client, runner, apps, tmp_path,
                                                                      caplog):  # fmt: skip
    raised = gen_concern(client)
    new, fallbacks = rotate(runner, tmp_path / "pepper.env")
    # `app` is still the old environment (a timer started before the file was edited): it writes nothing.
    with app.app_context():
        count = db.session.query(AuditEvent).count()
        with pytest.raises(audit.ChainNotCurrent):
            audit.record(audit.Action.CASES_PURGED, audit.Actor.SYSTEM, count=0)
        db.session.rollback()
        assert db.session.query(AuditEvent).count() == count
    assert any(r.levelname == "ERROR" and r.getMessage().startswith("Audit chain not under the current pepper")
               for r in caplog.records)  # fmt: skip
    assert app.test_client().get("/api/v1/follow-up", headers={"Authorization": f"Bearer {raised['access_code']}"})
    after = restarted(app, TOKEN_PEPPER=new, TOKEN_PEPPER_FALLBACKS=fallbacks)
    apps.append(after)
    with after.app_context():
        audit.record(audit.Action.CASES_PURGED, audit.Actor.SYSTEM, count=0)
        db.session.commit()
        assert audit.check_chain().broken is None


def test_a_file_the_command_cannot_write_changes_nothing_and_says_why(app, runner, tmp_path):
    """Outside review 2, finding 7: the guide's path was one the service user cannot write, and the operator got a
    traceback. Now a plain message, and the rotation is not recorded."""
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("a file where a folder should be")
    with app.app_context():
        before = db.session.scalar(select(func.count()).select_from(AuditEvent))
    done = runner.invoke(args=["speakup", "rotate-pepper", "--output", str(blocked / "pepper.env")])
    assert done.exit_code != 0 and "cannot write" in done.output and "nothing changed" in done.output
    assert "Traceback" not in done.output
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(AuditEvent)) == before
