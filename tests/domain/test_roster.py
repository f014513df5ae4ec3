"""The signed roster (issue 12): a guardian receives case keys only while an endorsement of their current keys
verifies up to the pinned organisation key. Someone who can write to the database (an operator, or an
administrator with SQL access) tries to slip a key in: each attempt is left out, alarmed and audited."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select
from support.factories import gen_concern, gen_staff, organisation_secrets
from support.html import AuthActions, post_form

from speakup.crypto import kem, sealing, signing
from speakup.keys import account_keys, approvals, recovery, roster
from speakup.ops import audit
from speakup.platform.models import AuditEvent, Case, CaseGrant, Endorsement, OrganisationKey, User, db


def _case_id(app, reference: str) -> int:
    with app.app_context():
        return db.session.scalar(select(Case.id).where(Case.reference == reference))


def _wrapped_for(app, reference: str) -> set[int]:
    with app.app_context():
        return set(
            db.session.scalars(
                select(CaseGrant.user_id).where(
                    CaseGrant.case_id == _case_id(app, reference), CaseGrant.recipient == "guardian"
                )
            )
        )


def _alarms(app) -> list[dict]:
    with app.app_context():
        events = db.session.scalars(select(AuditEvent).where(AuditEvent.action == audit.ROSTER_ALARM))
        return [audit.detail_of(event) for event in events]


def _verify(runner):
    return runner.invoke(args=["speakup", "roster", "verify"])


def _signed_in(app, staff):
    client = app.test_client()
    assert AuthActions(client).sign_in(staff).status_code == 302
    return client


# --- What holds when nobody tampers ----------------------------------------------------------------------------


def test_new_concerns_are_wrapped_for_approved_guardians_only(app, client, runner):
    gita = gen_staff(app, email="gita@example.org", name="Gita Guardian")
    pat = gen_staff(app, email="pat@example.org", name="Pat Pending", approved=False)
    admin = gen_staff(app, email="admin@example.org", role="admin", name="Ada Admin")
    reference = gen_concern(client)["reference"]
    assert _wrapped_for(app, reference) == {gita.id}
    assert pat.id not in _wrapped_for(app, reference) and admin.id not in _wrapped_for(app, reference)
    result = _verify(runner)
    assert result.exit_code == 0, result.output
    assert "ok      gita@example.org" in result.output and "1 approved guardians" in result.output
    assert _alarms(app) == []


def test_a_guardian_approved_by_a_guardian_chains_up_to_the_organisation_key(app, client, runner):
    gita = gen_staff(app, email="gita@example.org", name="Gita Guardian")
    bea = gen_staff(app, email="bea@example.org", name="Bea Guardian", approved=False)
    cal = gen_staff(app, email="cal@example.org", name="Cal Guardian", approved=False)
    with app.app_context():
        bea_code = roster.safety_code_of(db.session.get(User, bea.id))
        cal_code = roster.safety_code_of(db.session.get(User, cal.id))
    # Gita (approved by the organisation) approves Bea, and Bea then approves Cal: a chain of three.
    assert post_form(_signed_in(app, gita), "/guardian/team", f"/guardian/team/{bea.id}/approve",
                     safety_code=bea_code).status_code == 200  # fmt: skip
    assert post_form(_signed_in(app, bea), "/guardian/team", f"/guardian/team/{cal.id}/approve",
                     safety_code=cal_code.replace(" ", "-")).status_code == 200  # fmt: skip
    reference = gen_concern(client)["reference"]
    assert _wrapped_for(app, reference) == {gita.id, bea.id, cal.id}
    with app.app_context():
        cal_endorsement = db.session.get(Endorsement, db.session.get(User, cal.id).endorsement_id)
        statement = json.loads(cal_endorsement.statement)
        assert statement["endorser"] == bea.id and statement["email"] == "cal@example.org"
        assert statement["role"] == "guardian" and statement["protocol"] == sealing.PROTOCOL
        assert cal_endorsement.parent_id == db.session.get(User, bea.id).endorsement_id
    assert _verify(runner).exit_code == 0


def test_the_steady_state_pays_no_signature_checks(app, client, monkeypatch):
    gen_staff(app, email="gita@example.org", name="Gita Guardian")
    gen_staff(app, email="bea@example.org", name="Bea Guardian")
    gen_concern(client)  # the first concern after a change verifies the roster once
    checks = []
    real = signing.verify_signature
    monkeypatch.setattr(signing, "verify_signature", lambda *a: checks.append(1) or real(*a))
    for _ in range(3):
        gen_concern(client)
    assert checks == []
    # Any change to a guardian's row is verified again before the next wrap.
    with app.app_context():
        db.session.scalar(select(User).where(User.email == "bea@example.org")).name = "Bea Renamed"
        db.session.commit()
    gen_concern(client)
    assert len(checks) == 2  # one endorsement each, both signed by the organisation key


# --- A database writer's attempts ---------------------------------------------------------------------------------


def test_a_replaced_public_key_is_left_out_alarmed_and_audited(app, client, runner, caplog):
    gita = gen_staff(app, email="gita@example.org", name="Gita Guardian")
    bea = gen_staff(app, email="bea@example.org", name="Bea Guardian")
    gen_concern(client)  # the roster is verified and cached with both
    attacker = kem.generate_keypair()
    with app.app_context():
        db.session.get(User, bea.id).public_key = attacker.public_bytes  # the writer's own key
        db.session.commit()
    with caplog.at_level("WARNING", logger="speakup.keys.roster"):
        reference = gen_concern(client)["reference"]
    assert _wrapped_for(app, reference) == {gita.id}  # nothing the attacker's key could open
    with app.app_context():
        for grant in db.session.scalars(select(CaseGrant).where(CaseGrant.case_id == _case_id(app, reference))):
            with pytest.raises(sealing.DecryptionError):
                kem.unwrap_case_key(grant.wrapped_key, attacker.private_bytes, grant.case_id)
    assert _alarms(app) == [
        {"guardian_id": bea.id, "reason": "its keys or details are not the ones its endorsement approved"}
    ]
    # The log names the account by id only: no name or email.
    alarm_lines = [r.getMessage() for r in caplog.records if "Roster alarm" in r.getMessage()]
    assert alarm_lines and all("bea" not in line.lower() for line in alarm_lines)
    result = _verify(runner)
    assert result.exit_code == 1
    assert "FAILED  bea@example.org: its keys or details are not the ones its endorsement approved" in result.output
    assert "ok      gita@example.org" in result.output
    # A second concern raises no second alarm from this process: the same failure is reported once.
    gen_concern(client)
    assert len(_alarms(app)) == 2  # this one, and the one `roster verify` recorded


def _forge(app, user: User, signing_key: bytes, endorser: int | str, parent_id: int | None) -> Endorsement:
    statement = approvals._statement(user, endorser, signing.signing_public_key_of(signing_key), user.created_at)
    row = Endorsement(
        user_id=user.id,
        endorser_id=None,
        parent_id=parent_id,
        statement=statement,
        signature=signing.sign(signing_key, roster.STATEMENT_CONTEXT, statement),
    )
    db.session.add(row)
    db.session.flush()
    user.endorsement_id = row.id
    return row


@pytest.mark.parametrize(
    "forgery",
    ["own key as the organisation", "signed by a pending guardian", "someone else's endorsement", "edited statement"],
)
def test_a_forged_endorsement_row_is_left_out_alarmed_and_audited(app, client, runner, forgery):
    gita = gen_staff(app, email="gita@example.org", name="Gita Guardian")
    pat = gen_staff(app, email="pat@example.org", name="Pat Pending", approved=False)
    puppet = gen_staff(app, email="puppet@example.org", name="Pup Pet", approved=False)
    with app.app_context():
        user = db.session.get(User, puppet.id)
        if forgery == "own key as the organisation":
            _forge(app, user, signing.generate_signing_keypair().private_bytes, "organisation", None)
        elif forgery == "signed by a pending guardian":
            # The pending guardian's real signing key, which no endorsement certifies.
            pat_keys = account_keys.unlock_account(db.session.get(User, pat.id), pat.password).keys
            _forge(app, user, pat_keys.signing_key, pat.id, None)
        elif forgery == "someone else's endorsement":
            user.endorsement_id = db.session.get(User, gita.id).endorsement_id
        else:
            row = db.session.get(Endorsement, db.session.get(User, gita.id).endorsement_id)
            statement = json.loads(row.statement)
            statement.update(user_id=puppet.id, email="puppet@example.org")
            copy = Endorsement(user_id=puppet.id, statement=json.dumps(statement).encode(), signature=row.signature)
            db.session.add(copy)
            db.session.flush()
            user.endorsement_id = copy.id
        db.session.commit()
    reference = gen_concern(client)["reference"]
    assert _wrapped_for(app, reference) == {gita.id}
    alarms = _alarms(app)
    assert [alarm["guardian_id"] for alarm in alarms] == [puppet.id]
    result = _verify(runner)
    assert result.exit_code == 1 and "FAILED  puppet@example.org:" in result.output
    # The puppet signs in and opens nothing: not the case, and no queue of cases.
    puppet_client = _signed_in(app, puppet)
    assert "You are waiting for approval" in puppet_client.get("/guardian/").get_data(as_text=True)
    assert puppet_client.get(f"/guardian/cases/{reference}").status_code == 403


def test_an_administrator_turned_guardian_in_the_database_receives_nothing(app, client, runner):
    gita = gen_staff(app, email="gita@example.org", name="Gita Guardian")
    admin = gen_staff(app, email="admin@example.org", role="admin", name="Ada Admin")
    with app.app_context():
        user = db.session.get(User, admin.id)
        user.role = "guardian"
        user.endorsement_id = db.session.get(User, gita.id).endorsement_id
        db.session.commit()
    reference = gen_concern(client)["reference"]
    assert _wrapped_for(app, reference) == {gita.id}
    assert _verify(runner).exit_code == 1


def test_a_replaced_organisation_key_makes_nobody_a_guardian(app, client, runner):
    """The writer swaps the stored organisation key for their own and signs their puppet with it: the pinned
    SPEAKUP_ROSTER_ROOT no longer matches, so nobody is believed (and every claim is alarmed)."""
    gen_staff(app, email="gita@example.org", name="Gita Guardian")
    puppet = gen_staff(app, email="puppet@example.org", name="Pup Pet", approved=False)
    forged_root = signing.generate_signing_keypair()
    with app.app_context():
        db.session.scalar(
            select(OrganisationKey).where(OrganisationKey.purpose == "roster")
        ).public_key = forged_root.public_bytes
        _forge(app, db.session.get(User, puppet.id), forged_root.private_bytes, "organisation", None)
        db.session.commit()
    reference = gen_concern(client)["reference"]
    assert _wrapped_for(app, reference) == set()
    with app.app_context():  # the case is still safe: the recovery key holds it
        assert db.session.scalar(select(func.count(CaseGrant.id)).where(CaseGrant.recipient == "recovery")) == 1
    result = _verify(runner)
    assert result.exit_code == 1
    assert "the organisation signing key does not match SPEAKUP_ROSTER_ROOT" in result.output
    assert {alarm["reason"] for alarm in _alarms(app)} == {
        "the organisation signing key does not match SPEAKUP_ROSTER_ROOT"
    }


# --- Sharing and recovery go to the roster only ---------------------------------------------------------------------


def test_sharing_and_share_all_offer_and_accept_approved_guardians_only(app, client):
    gita = gen_staff(app, email="gita@example.org", name="Gita Guardian")
    pat = gen_staff(app, email="pat@example.org", name="Pat Pending", approved=False)
    reference = gen_concern(client)["reference"]
    gita_client = _signed_in(app, gita)
    case_page = gita_client.get(f"/guardian/cases/{reference}").get_data(as_text=True)
    share_all = gita_client.get("/guardian/share").get_data(as_text=True)
    assert "Pat Pending" not in case_page and "Pat Pending" not in share_all
    one = post_form(gita_client, f"/guardian/cases/{reference}", f"/guardian/cases/{reference}/share",
                    share_with=str(pat.id))  # fmt: skip
    assert one.status_code == 400 and "Choose a guardian to share this case with" in one.get_data(as_text=True)
    every = post_form(gita_client, "/guardian/share", share_with=str(pat.id))
    assert every.status_code == 400
    assert _wrapped_for(app, reference) == {gita.id}


def test_the_organisation_key_approves_on_the_command_line(app, client, runner, tmp_path):
    pat = gen_staff(app, email="pat@example.org", name="Pat Pending", approved=False)
    secrets = organisation_secrets(app)
    key_file = tmp_path / "recovery.key"
    key_file.write_text(recovery.encode_recovery_file(secrets.recovery_key, secrets.signing_key))
    recovery_only = tmp_path / "old.key"
    recovery_only.write_text(recovery.encode_recovery_file(secrets.recovery_key))
    with app.app_context():
        code = roster.safety_code_of(db.session.get(User, pat.id))

    def approve(*extra: str, file=key_file):
        return runner.invoke(args=["speakup", "approve", "--email", "pat@example.org", "--recovery-key-file",
                                   str(file), *extra])  # fmt: skip

    wrong = approve("--safety-code", "1" * 20)
    assert wrong.exit_code == 1 and "does not match" in wrong.output
    old = approve(file=recovery_only)
    assert old.exit_code == 1 and "no organisation signing key" in old.output
    assert _verify(runner).output.count("ok ") == 0
    done = approve("--safety-code", code)
    assert done.exit_code == 0, done.output
    assert code in done.output
    again = approve()
    assert again.exit_code == 1 and "Pat Pending is already approved" in again.output
    assert pat.id in _wrapped_for(app, gen_concern(client)["reference"])
    with app.app_context():
        approvals = db.session.scalars(select(AuditEvent).where(AuditEvent.action == audit.GUARDIAN_APPROVED))
        assert [audit.detail_of(e) for e in approvals if audit.detail_of(e)["email"] == "pat@example.org"] == [
            {"email": "pat@example.org", "by": "organisation"}
        ]


def test_create_user_with_the_key_file_approves_and_without_it_is_pending(app, client, runner, tmp_path):
    secrets = organisation_secrets(app)
    key_file = tmp_path / "recovery.key"
    key_file.write_text(recovery.encode_recovery_file(secrets.recovery_key, secrets.signing_key))

    def create(email: str, *extra: str):
        return runner.invoke(
            args=["speakup", "create-user", "--email", email, "--name", email.split("@")[0].title(),
                  "--role", "guardian", *extra],
            input="a sufficiently long password\n",
        )  # fmt: skip

    first = create("first@example.org", "--recovery-key-file", str(key_file))
    assert first.exit_code == 0 and "approved with the organisation key" in first.output
    assert "totp-uri: otpauth://" in first.output and "safety-code: " in first.output
    second = create("second@example.org")
    assert second.exit_code == 0 and "pending approval" in second.output
    with app.app_context():
        ids = {u.email: u.id for u in db.session.scalars(select(User))}
    assert _wrapped_for(app, gen_concern(client)["reference"]) == {ids["first@example.org"]}
