"""The signed roster (issues 12 and 23): a guardian receives case keys only while the roster log, signed up to the
pinned organisation key, approves their current keys. Someone who can write to the database tries to slip a key in:
a changed account is left out and alarmed; a forged, edited or rolled-back log is an alarm, and only the recovery
key opens what is raised meanwhile."""

from __future__ import annotations

import html
import json
import os
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import delete, select
from support.factories import (
    gen_admin,
    gen_concern,
    gen_staff,
    grant_opens_with,
    guardians_wrapped_for,
    organisation_secrets,
    safety_code_of,
)
from support.html import post_form, signed_in
from support.present import get_row, present, scalar

from speakup.crypto import kem, sealing, signing
from speakup.keys import account_keys, recovery, roster, roster_log
from speakup.ops import audit
from speakup.platform import transactions
from speakup.platform.models import AuditEvent, OrganisationKey, RosterEntry, User, db


def _alarms(app) -> list[dict]:
    with app.app_context():
        events = db.session.scalars(
            select(AuditEvent).where(AuditEvent.action == audit.Action.ROSTER_ALARM).order_by(AuditEvent.id)
        )
        return [audit.detail_of(event) for event in events]


def _verify(runner):
    return runner.invoke(args=["speakup", "roster", "verify"])


def _approve(client, user_id: int, safety_code: str) -> str:
    """Approves on the Team page; the page its redirect leads to, which says what the approval did."""
    response = post_form(client, "/guardian/team", f"/guardian/team/{user_id}/approve", safety_code=safety_code)
    assert response.status_code == 303 and response.location == "/guardian/team", response.location
    page = html.unescape(client.get(response.location).get_data(as_text=True))
    assert "form-refused" not in page
    return page


# --- What holds when nobody tampers ----------------------------------------------------------------------------


def test_new_concerns_are_wrapped_for_approved_guardians_only(app, client, runner):
    gita = gen_staff(app, email="gita@example.org", name="Gita Guardian")
    pat = gen_staff(app, email="pat@example.org", name="Pat Pending", approved=False)
    admin = gen_admin(app)
    reference = gen_concern(client)["reference"]
    assert guardians_wrapped_for(app, reference) == {gita.id}
    assert pat.id not in guardians_wrapped_for(app, reference) and admin.id not in guardians_wrapped_for(app, reference)
    result = _verify(runner)
    assert result.exit_code == 0, result.output
    assert "ok      gita@example.org" in result.output and "1 approved guardians" in result.output
    assert _alarms(app) == []


def test_guardians_approved_by_guardians_are_signed_into_the_log(app, client, runner):
    gita = gen_staff(app, email="gita@example.org", name="Gita Guardian")
    bea = gen_staff(app, email="bea@example.org", name="Bea Guardian", approved=False)
    cal = gen_staff(app, email="cal@example.org", name="Cal Guardian", approved=False)
    with app.app_context():
        bea_code = safety_code_of(get_row(User, bea.id))
        cal_code = safety_code_of(get_row(User, cal.id))
    # Gita (approved by the organisation) approves Bea alone: with one other guardian, one approval is enough.
    assert "Bea Guardian is approved." in _approve(signed_in(app, gita), bea.id, bea_code)
    # With two approved guardians, Cal needs both: Bea's approval alone leaves Cal waiting.
    assert "1 of 2 approvals" in _approve(signed_in(app, bea), cal.id, cal_code.replace(" ", "-"))
    assert cal.id not in guardians_wrapped_for(app, gen_concern(client)["reference"])
    assert "Cal Guardian is approved." in _approve(signed_in(app, gita), cal.id, cal_code)
    reference = gen_concern(client)["reference"]
    assert guardians_wrapped_for(app, reference) == {gita.id, bea.id, cal.id}
    with app.app_context():
        entries = db.session.scalars(select(RosterEntry).where(RosterEntry.user_id == cal.id)).all()
        approvals_of_cal = [json.loads(entry.statement) for entry in entries if entry.kind == "approve"]
        assert [statement["signer"] for statement in approvals_of_cal] == [bea.id, gita.id]
        subject = approvals_of_cal[0]["subject"]
        assert subject["email"] == "cal@example.org" and subject["role"] == "guardian"
        assert approvals_of_cal[0]["protocol"] == sealing.PROTOCOL
    assert _verify(runner).exit_code == 0


def test_the_steady_state_pays_no_signature_checks(app, client, monkeypatch):
    gen_staff(app, email="gita@example.org", name="Gita Guardian")
    gen_staff(app, email="bea@example.org", name="Bea Guardian")
    gen_concern(client)  # the first concern after a change verifies the roster once
    checks = []
    real = signing.verify_signature

    def counted(*a: Any) -> Any:
        checks.append(1)
        return real(*a)

    monkeypatch.setattr(signing, "verify_signature", counted)
    for _ in range(3):
        gen_concern(client)
    assert checks == []
    # Any change to a guardian's row is verified again before the next wrap.
    with app.app_context():
        scalar(select(User).where(User.email == "bea@example.org")).name = "Bea Renamed"
        db.session.commit()
    gen_concern(client)
    assert len(checks) == 3  # the log's checkpoint and the organisation key's approval of each


# --- A database writer's attempts ---------------------------------------------------------------------------------


def test_a_replaced_public_key_is_left_out_alarmed_and_audited(app, client, runner, caplog):
    gita = gen_staff(app, email="gita@example.org", name="Gita Guardian")
    bea = gen_staff(app, email="bea@example.org", name="Bea Guardian")
    gen_concern(client)  # the roster is verified and cached with both
    attacker = kem.generate_keypair()
    with app.app_context():
        get_row(User, bea.id).public_key = attacker.public_bytes  # the writer's own key
        db.session.commit()
    with caplog.at_level("WARNING", logger="speakup.keys.roster"):
        reference = gen_concern(client)["reference"]
    assert guardians_wrapped_for(app, reference) == {gita.id}  # nothing the attacker's key could open
    assert not grant_opens_with(app, reference, attacker.private_bytes)
    assert _alarms(app) == [{"guardian_id": bea.id, "reason": "its keys or details are not the ones approved"}]
    # The log names the account by id only: no name or email.
    alarm_lines = [r.getMessage() for r in caplog.records if "Roster alarm" in r.getMessage()]
    assert alarm_lines and all("bea" not in line.lower() for line in alarm_lines)
    result = _verify(runner)
    assert result.exit_code == 1
    assert "FAILED  bea@example.org: its keys or details are not the ones approved" in result.output
    assert "ok      gita@example.org" in result.output
    # A second concern raises no second alarm from this process: the same failure is reported once.
    gen_concern(client)
    assert len(_alarms(app)) == 2  # this one, and the one `roster verify` recorded


def _append_forged(kind: str, user_id: int | None, body: dict, signer: int | str, signing_key: bytes) -> None:
    """What a database writer can append: a well-formed, correctly chained entry signed with a key they hold."""
    roster_log.append(kind, user_id, body, signer, signing_key)


def _recovery_opens(app, reference: str) -> bool:
    return grant_opens_with(app, reference, app.config["TEST_RECOVERY_PRIVATE_KEY"], recipient="recovery")


@pytest.mark.parametrize(
    "forgery",
    [
        "own key as the organisation",
        "signed by a pending guardian",
        "an approval copied onto another account",
        "edited statement",
        "a checkpoint signed by another key",
    ],
)
def test_a_forged_log_entry_is_a_roster_alarm_and_only_the_recovery_key_opens(app, client, runner, forgery):
    gita = gen_staff(app, email="gita@example.org", name="Gita Guardian")
    pat = gen_staff(app, email="pat@example.org", name="Pat Pending", approved=False)
    puppet = gen_staff(app, email="puppet@example.org", name="Pup Pet", approved=False)
    with app.app_context():
        user = get_row(User, puppet.id)
        subject = {"subject": roster_log.subject_of(user)}
        forged_key = signing.generate_signing_keypair().private_bytes
        if forgery == "own key as the organisation":
            _append_forged("approve", puppet.id, subject, "organisation", forged_key)
        elif forgery == "signed by a pending guardian":
            # The pending guardian's real signing key, which no approval certifies.
            pat_keys = account_keys.unlock_account(get_row(User, pat.id), pat.password).keys
            _append_forged("approve", puppet.id, subject, pat.id, present(pat_keys.signing_key, "signing key"))
        elif forgery == "an approval copied onto another account":
            row = scalar(select(RosterEntry).where(RosterEntry.user_id == gita.id))
            roster_log.append("added", puppet.id)
            head = present(roster_log.head(), "roster head")
            db.session.add(RosterEntry(seq=head.seq + 1, kind="approve", user_id=puppet.id,
                                       statement=row.statement, signature=row.signature))  # fmt: skip
        elif forgery == "edited statement":
            row = scalar(select(RosterEntry).where(RosterEntry.user_id == gita.id))
            statement = json.loads(row.statement)
            statement["subject"] = subject["subject"]
            row.statement = json.dumps(statement, sort_keys=True, separators=(",", ":")).encode()
        else:
            body = {"root_public": roster_log.b64(signing.signing_public_key_of(forged_key)),
                    "recovery_public": roster_log.b64(kem.generate_keypair().public_bytes),
                    "members": [subject["subject"]]}  # fmt: skip
            _append_forged("checkpoint", None, body, "organisation", forged_key)
        db.session.commit()
    reference = gen_concern(client)["reference"]
    assert guardians_wrapped_for(app, reference) == set()  # nobody is believed while the log is in doubt
    assert _recovery_opens(app, reference)  # and nothing is lost: the genuine recovery key holds it
    alarms = _alarms(app)
    assert alarms and all(alarm.get("guardian_id") is None for alarm in alarms)
    result = _verify(runner)
    assert result.exit_code == 1 and "FAILED  roster log:" in result.output
    # The puppet signs in and opens nothing: not the case, and no queue of cases.
    puppet_client = signed_in(app, puppet)
    assert "You are waiting for approval" in puppet_client.get("/guardian/").get_data(as_text=True)
    assert puppet_client.get(f"/guardian/cases/{reference}").status_code == 403


def test_an_administrator_turned_guardian_in_the_database_receives_nothing(app, client, runner):
    gita = gen_staff(app, email="gita@example.org", name="Gita Guardian")
    admin = gen_admin(app)
    with app.app_context():
        get_row(User, admin.id).role = "guardian"
        db.session.commit()
    reference = gen_concern(client)["reference"]
    assert guardians_wrapped_for(app, reference) == {gita.id}


def test_replaced_organisation_keys_in_the_database_change_nothing(app, client, runner):
    """The writer swaps both stored organisation keys for their own: the roster's root is the pinned one and the
    recovery key the one its checkpoint names, so the guardians still read and the writer's keys open nothing."""
    gita = gen_staff(app, email="gita@example.org", name="Gita Guardian")
    forged_root = signing.generate_signing_keypair()
    forged_recovery = kem.generate_keypair()
    with app.app_context():
        keys = {row.purpose: row for row in db.session.scalars(select(OrganisationKey))}
        keys["roster"].public_key = forged_root.public_bytes
        keys["recovery"].public_key = forged_recovery.public_bytes
        db.session.commit()
    reference = gen_concern(client)["reference"]
    assert guardians_wrapped_for(app, reference) == {gita.id}
    assert _recovery_opens(app, reference)
    assert not grant_opens_with(app, reference, forged_recovery.private_bytes)


# --- Sharing and recovery go to the roster only ---------------------------------------------------------------------


def test_sharing_and_share_all_offer_and_accept_approved_guardians_only(app, client):
    gita = gen_staff(app, email="gita@example.org", name="Gita Guardian")
    pat = gen_staff(app, email="pat@example.org", name="Pat Pending", approved=False)
    reference = gen_concern(client)["reference"]
    gita_client = signed_in(app, gita)
    case_page = gita_client.get(f"/guardian/cases/{reference}").get_data(as_text=True)
    share_all = gita_client.get("/guardian/share").get_data(as_text=True)
    assert "Pat Pending" not in case_page and "Pat Pending" not in share_all
    one = post_form(gita_client, f"/guardian/cases/{reference}", f"/guardian/cases/{reference}/share",
                    share_with=str(pat.id))  # fmt: skip
    assert one.status_code == 303
    assert "Choose a guardian to share this case with" in gita_client.get(one.location).get_data(as_text=True)
    every = post_form(gita_client, "/guardian/share", share_with=str(pat.id))
    assert every.status_code == 303
    assert "Choose a guardian to share your cases with" in gita_client.get(every.location).get_data(as_text=True)
    assert guardians_wrapped_for(app, reference) == {gita.id}


def test_the_organisation_key_approves_on_the_command_line(app, client, runner, tmp_path):
    pat = gen_staff(app, email="pat@example.org", name="Pat Pending", approved=False)
    secrets = organisation_secrets(app)
    key_file = tmp_path / "recovery.key"
    key_file.write_text(recovery.encode_recovery_file(secrets.recovery_key, secrets.signing_key))
    recovery_only = tmp_path / "old.key"
    recovery_only.write_text(recovery.encode_recovery_file(secrets.recovery_key))
    with app.app_context():
        code = safety_code_of(get_row(User, pat.id))

    def approve(*extra: str, file=key_file):
        return runner.invoke(args=["speakup", "approve", "--email", "pat@example.org", "--recovery-key-file",
                                   str(file), *extra])  # fmt: skip

    wrong = approve("--safety-code", "1" * 20)
    assert wrong.exit_code == 1 and "does not match" in wrong.output
    without_code = approve()
    assert without_code.exit_code == 2 and "--safety-code" in without_code.output
    old = approve("--safety-code", code, file=recovery_only)
    assert old.exit_code == 1 and "no organisation signing key" in old.output
    assert _verify(runner).output.count("ok ") == 0
    done = approve("--safety-code", code)
    assert done.exit_code == 0, done.output
    again = approve("--safety-code", code)
    assert again.exit_code == 1 and "Pat Pending is already approved" in again.output
    assert pat.id in guardians_wrapped_for(app, gen_concern(client)["reference"])
    with app.app_context():
        approvals = db.session.scalars(
            select(AuditEvent).where(AuditEvent.action == audit.Action.GUARDIAN_APPROVED).order_by(AuditEvent.id)
        )
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
    assert guardians_wrapped_for(app, gen_concern(client)["reference"]) == {ids["first@example.org"]}


# --- Rollback: a log put back to an older copy ------------------------------------------------------------------


def _key_file(app, tmp_path):
    secrets = organisation_secrets(app)
    key_file = tmp_path / "recovery.key"
    key_file.write_text(recovery.encode_recovery_file(secrets.recovery_key, secrets.signing_key))
    return str(key_file)


def test_a_rolled_back_log_is_an_alarm_until_the_organisation_key_accepts_it(app, client, runner, tmp_path):
    gita = gen_staff(app, email="gita@example.org", name="Gita Guardian")
    bea = gen_staff(app, email="bea@example.org", name="Bea Guardian")
    admin = gen_staff(app, email="ada@example.org", role="admin", name="Ada Admin")
    admin_client = signed_in(app, admin)
    before = gen_concern(client)["reference"]  # this server anchors the log as it is
    assert guardians_wrapped_for(app, before) == {gita.id, bea.id}
    post_form(admin_client, "/admin/", f"/admin/users/{bea.id}/disable")
    assert guardians_wrapped_for(app, gen_concern(client)["reference"]) == {gita.id}  # and anchors the disabling
    with app.app_context():  # a backup from before Bea was disabled is put back (the log only: the worst case)
        db.session.execute(delete(RosterEntry).where(RosterEntry.seq == present(roster_log.head(), "roster head").seq))
        get_row(User, bea.id).is_active = True
        db.session.commit()
    during = gen_concern(client)["reference"]
    assert guardians_wrapped_for(app, during) == set() and _recovery_opens(app, during)
    verified = _verify(runner)
    assert verified.exit_code == 1 and "rolled back" in verified.output
    # The operator checks who still holds the role and accepts with the organisation key: Gita only.
    key_file = _key_file(app, tmp_path)
    accepted = runner.invoke(args=["speakup", "roster", "accept", "--recovery-key-file", key_file,
                                   "--keep", "gita@example.org"])  # fmt: skip
    assert accepted.exit_code == 0, accepted.output
    assert "kept: Gita Guardian" in accepted.output and "Bea" not in accepted.output
    assert _verify(runner).exit_code == 0
    assert guardians_wrapped_for(app, gen_concern(client)["reference"]) == {gita.id}
    # `speakup recover` gives her the concern raised during the alarm.
    recovered = runner.invoke(args=["speakup", "recover", "--to", "gita@example.org", "--recovery-key-file",
                                    key_file])  # fmt: skip
    assert recovered.exit_code == 0, recovered.output
    assert gita.id in guardians_wrapped_for(app, during)


def test_a_damaged_anchor_file_is_an_alarm_never_a_fresh_start(app, client):
    gita = gen_staff(app, email="gita@example.org", name="Gita Guardian")
    assert guardians_wrapped_for(app, gen_concern(client)["reference"]) == {gita.id}
    with open(app.config["ROSTER_ANCHOR_FILE"], "w") as anchor_file:
        anchor_file.write("not json")
    with app.app_context():  # any change makes the roster verify again
        get_row(User, gita.id).name = "Gita Renamed"
        db.session.commit()
    reference = gen_concern(client)["reference"]
    assert guardians_wrapped_for(app, reference) == set() and _recovery_opens(app, reference)
    assert any("anchor file is damaged" in alarm.get("reason", "") for alarm in _alarms(app))


def test_the_first_checkpoint_names_the_recovery_key_and_nothing_else_is_trusted_for_it(app, client):
    """Before the log, the recovery key wrapped for was whatever the organisation_keys row held."""
    gen_staff(app, email="gita@example.org", name="Gita Guardian")
    with app.app_context():
        first = json.loads(scalar(select(RosterEntry).where(RosterEntry.seq == 1)).statement)
        assert first["kind"] == "checkpoint" and first["members"] == [] and first["signer"] == "organisation"
        assert roster_log.unb64(first["recovery_public"]) == kem.public_key_of(app.config["TEST_RECOVERY_PRIVATE_KEY"])
        assert (
            signing.roster_fingerprint(present(roster_log.unb64(first["root_public"]), "root key"))
            == app.config["ROSTER_ROOT"]
        )


def test_two_guardians_approving_at_the_same_moment_both_count(app, client, monkeypatch):
    """Both read the same head of the log and race for the next place: the later is made again after the other."""
    import threading

    from speakup.domain import staff

    people = [gen_staff(app, email=f"{name}@example.org", name=f"{name.title()} Guardian") for name in ("gita", "bea")]
    gen_staff(app, email="cal@example.org", name="Cal Guardian")
    nia = gen_staff(app, email="nia@example.org", name="Nia New", approved=False)
    with app.app_context():
        code = safety_code_of(get_row(User, nia.id))
        keys = {p.id: account_keys.unlock_account(get_row(User, p.id), p.password).keys for p in people}
    both_read = threading.Barrier(2, timeout=10)
    real_head = roster_log.head
    first_reads: list[int] = []

    def head_together():
        row = present(real_head(), "roster head")
        if len(first_reads) < 2:
            first_reads.append(row.seq)
            both_read.wait()  # each has read the head before either writes
        return row

    monkeypatch.setattr(roster_log, "head", head_together)
    failures: list[BaseException] = []

    def approve(person) -> None:
        with app.app_context():
            try:
                newcomer, approver = get_row(User, nia.id), get_row(User, person.id)
                with transactions.unit_of_work():  # each approval is a request of its own
                    staff.approve_guardian(newcomer, approver, keys[person.id], code)
            except BaseException as error:
                failures.append(error)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=approve, args=(person,)) for person in people]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert failures == [] and first_reads[0] == first_reads[1]
    assert nia.id in guardians_wrapped_for(app, gen_concern(client)["reference"])  # two approvals: on the roster


def test_an_approval_signed_before_its_signer_was_reset_no_longer_counts(app, client):
    """Bea approves Nia, then Bea is reset and approved again with new keys: her old signature is not hers now."""
    from speakup.domain import staff

    gita, bea, cal = (gen_staff(app, email=f"{n}@example.org", name=f"{n.title()} G") for n in ("gita", "bea", "cal"))
    nia = gen_staff(app, email="nia@example.org", name="Nia New", approved=False)
    with app.app_context():
        keys = {p.id: account_keys.unlock_account(get_row(User, p.id), p.password).keys for p in (gita, bea)}
        keys[cal.id] = account_keys.unlock_account(get_row(User, cal.id), cal.password).keys
        user = lambda staff_member: get_row(User, staff_member.id)  # noqa: E731 - a short local reader
        nia_code = safety_code_of(user(nia))
        staff.approve_guardian(user(nia), user(bea), keys[bea.id], nia_code)  # 1 of 2
        staff.reset_account(user(bea), user(gita))  # (an administrator's reset: who presses it does not matter here)
        fresh = account_keys.new_account_keys()  # Bea enrols again: new keys
        account_keys.seal_account(user(bea), "a new long password for bea", account_keys.password_params(), fresh, None)
        db.session.commit()
        bea_code = safety_code_of(user(bea))
        staff.approve_guardian(user(bea), user(gita), keys[gita.id], bea_code)
        staff.approve_guardian(user(bea), user(cal), keys[cal.id], bea_code)
        assert roster.current_roster().member(bea.id) is not None
        staff.approve_guardian(user(nia), user(gita), keys[gita.id], nia_code)
        waiting = present(roster.current_roster().approvals_of(nia.id), "Nia's approvals")
        assert roster.current_roster().member(nia.id) is None and waiting.have == 1 and waiting.need == 2
    assert nia.id not in guardians_wrapped_for(app, gen_concern(client)["reference"])


def test_keys_a_reset_retired_are_never_approved_again_even_put_back_in_the_database(app, client):
    """Review 25, F4: after Alice's reset a database writer put back her old key columns; Bob approved her old
    safety code and it counted, so a second approval would have made the retired keys (and any grants put back
    with them) a reader again. The log says which keys the reset retired: an approval of them never counts, and
    a guardian is refused before signing one."""
    from speakup.domain import staff
    from speakup.keys import approvals

    alice, bob, cal = (gen_staff(app, email=f"{n}@example.org", name=f"{n.title()} G") for n in ("alice", "bob", "cal"))
    with app.app_context():
        user = lambda staff_member: get_row(User, staff_member.id)  # noqa: E731 - a short local reader
        keys = {p.id: account_keys.unlock_account(user(p), p.password).keys for p in (bob, cal)}
        columns = [c.name for c in User.__table__.columns if c.name not in ("id", "email", "name", "role")]
        before = {name: getattr(user(alice), name) for name in columns}
        staff.reset_account(user(alice), user(bob))
        db.session.commit()
        for name, value in before.items():  # the database writer puts her account back as it was
            setattr(user(alice), name, value)
        db.session.commit()
        old_code = present(roster.safety_code_of(user(alice)), "her old safety code")
        with pytest.raises(approvals.ApprovalRefused, match="reset"):
            staff.approve_guardian(user(alice), user(bob), keys[bob.id], old_code)
        db.session.rollback()
        # And if a statement approving them reached the log anyway (signed by a deceived or hurried guardian):
        roster_log.approve(user(alice), bob.id, present(keys[bob.id].signing_key, "Bob's signing key"))
        roster_log.approve(user(alice), cal.id, present(keys[cal.id].signing_key, "Cal's signing key"))
        db.session.commit()
        verified = roster.current_roster()
        assert verified.problem is None and verified.member(alice.id) is None
    assert alice.id not in guardians_wrapped_for(app, gen_concern(client)["reference"])


def test_the_anchor_file_and_its_lock_are_private_whatever_the_umask(app):
    """Issue 27, point 7: the instance folder's anchor is the service's own (0600), even under umask 000."""
    import stat

    anchor_path = Path(app.config["ROSTER_ANCHOR_FILE"])
    anchor_path.unlink(missing_ok=True)
    before = os.umask(0)
    try:
        with app.app_context():
            assert roster.current_roster().problem is None
    finally:
        os.umask(before)
    for path in (anchor_path, Path(f"{anchor_path}.lock")):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
