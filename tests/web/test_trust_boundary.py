"""Issue 23's findings, each replayed as an outside reviewer reproduced it on a production-mode instance: ways an
administrator or a database writer still got a case key, or learned who said what. Each test uses only what the
attacker had (the pages, the command line, SQL on the database), so it ran, and failed, against the code before the
fix; it passes now. The mutation harness (tests/database/test_roster_mutations.py) covers the same ground by
enumeration."""

from __future__ import annotations

import re
import threading
import time
import urllib.parse

import pytest
from sqlalchemy import select, update
from support.factories import (
    PASSWORD,
    enrol,
    enrolment_path,
    gen_admin,
    gen_concern,
    gen_staff,
    grant_opens_with,
    guardians_wrapped_for,
)
from support.html import AuthActions, post_form, signed_in
from support.present import get_row, present, scalar, table_of

from speakup.crypto import kem, signing
from speakup.domain import enrolment
from speakup.keys import account_keys
from speakup.ops import audit
from speakup.platform import transactions
from speakup.platform.models import AuditEvent, Case, OrganisationKey, User, db


def _invite(admin_client, name="Nia New", email="nia@example.org", role="guardian") -> str:
    """Add an account; the page its redirect leads to, which shows the enrolment link."""
    response = post_form(admin_client, "/admin/invite", name=name, email=email, role=role)
    assert response.status_code == 303 and response.location == "/admin/enrolment-link"
    return admin_client.get(response.location).get_data(as_text=True)


def _approve(client, user_id: int, code: str):
    return post_form(client, "/guardian/team", f"/guardian/team/{user_id}/approve", safety_code=code)


# --- Finding 1: the recovery public key was not signed ----------------------------------------------------------


def test_a_recovery_key_replaced_in_the_database_opens_no_new_concern(app, client):
    gita = gen_staff(app, email="gita@example.org", name="Gita Guardian")
    attacker = kem.generate_keypair()
    with app.app_context():
        row = scalar(select(OrganisationKey).where(OrganisationKey.purpose == "recovery"))
        row.public_key = attacker.public_bytes
        db.session.commit()
    reference = gen_concern(client)["reference"]
    assert not grant_opens_with(app, reference, attacker.private_bytes)
    assert grant_opens_with(app, reference, app.config["TEST_RECOVERY_PRIVATE_KEY"])  # the genuine key still holds it
    assert guardians_wrapped_for(app, reference) == {gita.id}


# --- Finding 2: a pending guardian's keys swapped before approval -----------------------------------------------


def test_keys_swapped_before_approval_never_reach_the_roster(app, client):
    gita = gen_staff(app, email="gita@example.org", name="Gita Guardian")
    nia = enrol(app, _invite(signed_in(app, gen_admin(app))))
    hpke, signer = kem.generate_keypair(), signing.generate_signing_keypair()
    with app.app_context():
        user = get_row(User, nia.staff.id)
        user.public_key, user.signing_public_key = hpke.public_bytes, signer.public_bytes
        db.session.commit()
    swapped_code = signing.safety_code(hpke.public_bytes, signer.public_bytes)
    # Nia signs in and reads out what her screen shows: never the swapped keys' code.
    nia_client = app.test_client()
    nia_signs_in = AuthActions(nia_client).sign_in(nia.staff)
    shown = None
    assert nia_signs_in.status_code == 303
    if nia_signs_in.location == "/guardian/":
        match = re.search(r'id="safety-code">([0-9 ]+)<', nia_client.get("/guardian/").get_data(as_text=True))
        shown = match.group(1) if match else None
    else:
        assert "Contact your Freedom to Speak Up lead" in nia_client.get(nia_signs_in.location).get_data(as_text=True)
    assert shown in (None, nia.safety_code)
    # Someone passing the swapped code off as Nia's gets nothing approved that reads.
    _approve(signed_in(app, gita), nia.staff.id, swapped_code)
    reference = gen_concern(client)["reference"]
    assert nia.staff.id not in guardians_wrapped_for(app, reference)
    assert not grant_opens_with(app, reference, hpke.private_bytes)


# --- Finding 3: disabling and resetting were not part of the signed roster -------------------------------------


def test_a_disabled_guardian_made_active_again_in_the_database_receives_nothing(app, client):
    gen_staff(app, email="gita@example.org", name="Gita Guardian")
    bea = gen_staff(app, email="bea@example.org", name="Bea Guardian")
    post_form(signed_in(app, gen_admin(app)), "/admin/", f"/admin/users/{bea.id}/disable")
    with app.app_context():
        db.session.execute(update(User).where(User.id == bea.id).values(is_active=True))
        db.session.commit()
    assert bea.id not in guardians_wrapped_for(app, gen_concern(client)["reference"])


def test_key_columns_put_back_from_before_a_reset_receive_nothing(app, client):
    gen_staff(app, email="gita@example.org", name="Gita Guardian")
    bea = gen_staff(app, email="bea@example.org", name="Bea Guardian")
    with app.app_context():
        before = dict(db.session.execute(select(User.__table__).where(User.id == bea.id)).mappings().one())
    post_form(signed_in(app, gen_admin(app)), "/admin/", f"/admin/users/{bea.id}/reset-password")
    with app.app_context():
        db.session.execute(update(table_of(User)).where(User.id == bea.id).values(**before))
        db.session.commit()
    reference = gen_concern(client)["reference"]
    assert bea.id not in guardians_wrapped_for(app, reference)


def test_an_administrators_disable_then_enable_does_not_make_a_reader(app, client):
    gen_staff(app, email="gita@example.org", name="Gita Guardian")
    bea = gen_staff(app, email="bea@example.org", name="Bea Guardian")
    admin_client = signed_in(app, gen_admin(app))
    post_form(admin_client, "/admin/", f"/admin/users/{bea.id}/disable")
    post_form(admin_client, "/admin/", f"/admin/users/{bea.id}/enable")
    assert bea.id not in guardians_wrapped_for(app, gen_concern(client)["reference"])


# --- Finding 5, the smaller ones ----------------------------------------------------------------------------------


@pytest.mark.parametrize("app_overrides", [{"REQUIRE_MFA": False}], indirect=True)
def test_an_enrolment_link_sent_twice_at_once_finishes_one_enrolment(app, monkeypatch):
    invited = _invite(signed_in(app, gen_admin(app)))
    token = urllib.parse.parse_qs(urllib.parse.urlsplit(enrolment_path(invited)).query)["token"][0]
    both_unlocked = threading.Barrier(2, timeout=10)
    derive = account_keys.derive_password_key

    def derive_together(*args):
        key = derive(*args)
        both_unlocked.wait()  # both requests found the link unused and made their keys before either is stored
        return key

    monkeypatch.setattr(account_keys, "derive_password_key", derive_together)
    results: list[object] = []

    def finish() -> None:
        with app.app_context():
            try:
                with transactions.unit_of_work():  # as the request does
                    results.append(enrolment.complete(token, PASSWORD, PASSWORD, "", "").safety_code)
            except enrolment.LinkUnusable as unusable:
                results.append(unusable.reason)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=finish) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    finished = [code for code in results if code != "used"]
    assert len(results) == 2 and len(finished) == 1
    with app.app_context():  # the code the person was shown is the code of the keys stored
        user = scalar(select(User).where(User.email == "nia@example.org"))
        public_key, signing_key = (
            present(user.public_key, "public key"),
            present(user.signing_public_key, "signing key"),
        )
        assert signing.safety_code(public_key, signing_key) == finished[0]


def test_a_case_whose_sealed_exclusions_were_deleted_is_shared_with_nobody(app, client):
    gita = gen_staff(app, email="gita@example.org", name="Gita Guardian")
    bea = gen_staff(app, email="bea@example.org", name="Bea Guardian")
    reference = gen_concern(client, exclude_guardian=str(bea.id))["reference"]
    with app.app_context():
        db.session.execute(update(Case).where(Case.reference == reference).values(exclusions_ct=None))
        db.session.commit()
    gita_client = signed_in(app, gita)
    shared = post_form(gita_client, f"/guardian/cases/{reference}", f"/guardian/cases/{reference}/share",
                       share_with=str(bea.id))  # fmt: skip
    assert shared.status_code == 303  # refused: back to the case page, which says why
    assert "There is a problem" in gita_client.get(shared.location).get_data(as_text=True)
    post_form(gita_client, "/guardian/share", share_with=str(bea.id))
    assert bea.id not in guardians_wrapped_for(app, reference)


def test_administrators_own_accounts_cannot_push_a_guardian_change_off_the_notice(app):
    gita = gen_staff(app, email="gita@example.org", name="Gita Guardian")
    admin_client = signed_in(app, gen_admin(app))
    _invite(admin_client, "Mallory Plant", "mallory@example.org")
    for number in range(40):
        _invite(admin_client, f"Admin {number}", f"admin{number}@example.org", role="admin")
    notice = signed_in(app, gita).get("/guardian/").get_data(as_text=True)
    assert "Mallory Plant was added" in notice


def test_the_command_line_approves_nobody_without_the_safety_code(app, runner, tmp_path):
    from speakup.keys import recovery

    pat = gen_staff(app, email="pat@example.org", name="Pat Pending", approved=False)
    key_file = tmp_path / "recovery.key"
    config = app.config
    secret = recovery.encode_recovery_file(config["TEST_RECOVERY_PRIVATE_KEY"], config["TEST_ROSTER_SIGNING_KEY"])
    key_file.write_text(secret)
    runner.invoke(args=["speakup", "approve", "--email", "pat@example.org", "--recovery-key-file", str(key_file)])
    assert pat.id not in guardians_wrapped_for(app, gen_concern(app.test_client())["reference"])


def test_one_guardian_and_one_administrator_together_cannot_add_a_reader(app, client):
    gita = gen_staff(app, email="gita@example.org", name="Gita Guardian")
    bea = gen_staff(app, email="bea@example.org", name="Bea Guardian")
    nia = enrol(app, _invite(signed_in(app, gen_admin(app))))
    _approve(signed_in(app, gita), nia.staff.id, nia.safety_code_shown)
    assert nia.staff.id not in guardians_wrapped_for(app, gen_concern(client)["reference"])
    # A second guardian's approval, after checking the same code, makes her a reader.
    _approve(signed_in(app, bea), nia.staff.id, nia.safety_code_shown)
    assert nia.staff.id in guardians_wrapped_for(app, gen_concern(client)["reference"])


def test_the_guardians_a_reporter_may_keep_out_are_the_roster_only(app, client):
    gen_staff(app, email="gita@example.org", name="Gita Guardian")
    gen_staff(app, email="pat@example.org", name="Pat Pending", approved=False)
    gus = gen_staff(app, email="gus@example.org", name="Gus Gone")
    post_form(signed_in(app, gen_admin(app)), "/admin/", f"/admin/users/{gus.id}/disable")
    names = [guardian["name"] for guardian in client.get("/api/v1/options").get_json()["guardians"]]
    assert names == ["Gita Guardian"]
    form = client.get("/raise").get_data(as_text=True)
    assert "Pat Pending" not in form and "Gus Gone" not in form


def test_a_sign_in_whose_stored_keys_are_not_the_persons_own_is_a_roster_alarm(app, client):
    gita = gen_staff(app, email="gita@example.org", name="Gita Guardian")
    bea = gen_staff(app, email="bea@example.org", name="Bea Guardian")
    with app.app_context():
        get_row(User, bea.id).signing_public_key = signing.generate_signing_keypair().public_bytes
        db.session.commit()
    browser = app.test_client()
    answer = AuthActions(browser).sign_in(bea)
    assert answer.status_code == 303 and answer.location == "/guardian/sign-in"
    assert "Contact your Freedom to Speak Up lead" in browser.get(answer.location).get_data(as_text=True)
    with app.app_context():
        alarms = db.session.scalars(select(AuditEvent).where(AuditEvent.action == audit.Action.ROSTER_ALARM)).all()
        assert any(audit.detail_of(alarm).get("guardian_id") == bea.id for alarm in alarms)
    assert guardians_wrapped_for(app, gen_concern(client)["reference"]) == {gita.id}


# --- Found by the outside review of the roster log ---------------------------------------


def test_an_administrator_who_disables_the_other_guardians_first_still_needs_two_approvals(app, client):
    """The administrator disables Bea and Cal, adds an account and enrols as it; Gita alone approves it."""
    gita = gen_staff(app, email="gita@example.org", name="Gita Guardian")
    bea = gen_staff(app, email="bea@example.org", name="Bea Guardian")
    cal = gen_staff(app, email="cal@example.org", name="Cal Guardian")
    admin_client = signed_in(app, gen_admin(app))
    for other in (bea, cal):
        post_form(admin_client, "/admin/", f"/admin/users/{other.id}/disable")
    puppet = enrol(app, _invite(admin_client, "Pat Puppet", "pat@example.org"))
    _approve(signed_in(app, gita), puppet.staff.id, puppet.safety_code_shown)
    reference = gen_concern(client)["reference"]
    assert puppet.staff.id not in guardians_wrapped_for(app, reference)
    # Bea and Cal enabled again cannot be brought back by Gita and the puppet either.
    for other in (bea, cal):
        post_form(admin_client, "/admin/", f"/admin/users/{other.id}/enable")
    assert guardians_wrapped_for(app, gen_concern(client)["reference"]) == {gita.id}


def test_a_share_request_whose_requester_was_blanked_in_the_database_needs_a_second_guardian(app, client):
    gita = gen_staff(app, email="gita@example.org", name="Gita Guardian")
    bea = gen_staff(app, email="bea@example.org", name="Bea Guardian")
    reference = gen_concern(client, exclude_guardian=str(bea.id))["reference"]
    gita_client = signed_in(app, gita)
    post_form(gita_client, f"/guardian/cases/{reference}", f"/guardian/cases/{reference}/share",
              share_with=str(bea.id), override_exclusion="yes")  # fmt: skip
    from speakup.platform.models import ShareRequest

    with app.app_context():
        request = scalar(select(ShareRequest))
        uid = request.uid
        request.requested_by_id = None  # the database writer hides who asked
        db.session.commit()
    post_form(gita_client, f"/guardian/cases/{reference}", f"/guardian/cases/{reference}/share-requests/{uid}/confirm")
    assert bea.id not in guardians_wrapped_for(app, reference)


def test_an_entry_edited_behind_an_unchanged_head_is_seen_within_a_minute(app, client, monkeypatch):
    import json as json_module

    from speakup.keys import roster
    from speakup.platform.models import RosterEntry

    gen_staff(app, email="gita@example.org", name="Gita Guardian")
    gen_staff(app, email="bea@example.org", name="Bea Guardian")
    gen_concern(client)  # verified and cached
    with app.app_context():
        entry = scalar(select(RosterEntry).where(RosterEntry.kind == "approve"))
        statement = json_module.loads(entry.statement)
        statement["subject"]["email"] = "someone.else@example.org"
        entry.statement = json_module.dumps(statement, sort_keys=True, separators=(",", ":")).encode()
        db.session.commit()
    now = [time.monotonic()]
    monkeypatch.setattr("speakup.keys.roster.time.monotonic", lambda: now[0])
    now[0] += roster.RECHECK_SECONDS + 1
    reference = gen_concern(client)["reference"]
    assert guardians_wrapped_for(app, reference) == set()
    with app.app_context():
        assert roster.current_roster().problem is not None


def test_an_address_with_a_trailing_dot_cannot_pass_for_a_guardians(app):
    gen_staff(app, email="gita@example.org", name="Gita Guardian")
    admin_client = signed_in(app, gen_admin(app))
    response = post_form(admin_client, "/admin/invite", name="Gita Guardian", email="gita@example.org.",
                         role="guardian")  # fmt: skip
    assert response.status_code == 303
    assert "Enter a valid email address" in admin_client.get(response.location).get_data(as_text=True)


def test_the_notice_says_approved_only_when_the_approvals_are_complete(app):
    gita = gen_staff(app, email="gita@example.org", name="Gita Guardian")
    bea = gen_staff(app, email="bea@example.org", name="Bea Guardian")
    nia = enrol(app, _invite(signed_in(app, gen_admin(app))))
    _approve(signed_in(app, gita), nia.staff.id, nia.safety_code_shown)
    notice = signed_in(app, bea).get("/guardian/").get_data(as_text=True)
    assert "Nia New received an approval" in notice and "Nia New was approved" not in notice
    _approve(signed_in(app, bea), nia.staff.id, nia.safety_code_shown)
    notice = signed_in(app, gita).get("/guardian/").get_data(as_text=True)
    assert "Nia New was approved" in notice


# --- Found by a code review of the roster log --------------------------------------------------------------------


def test_a_deleted_log_is_an_alarm_and_upgrade_will_not_start_a_new_one(app, client, runner, tmp_path):
    """A database writer deletes the log and swaps a key in; the alarm told the operator to run `roster upgrade`,
    which then signed whatever keys the database held."""
    from speakup.keys import recovery
    from speakup.platform.models import RosterEntry

    gen_staff(app, email="gita@example.org", name="Gita Guardian")
    gen_concern(client)  # this server anchors the log
    attacker = kem.generate_keypair()
    with app.app_context():
        db.session.execute(table_of(RosterEntry).delete())
        swap = update(User).where(User.email == "gita@example.org").values(public_key=attacker.public_bytes)
        db.session.execute(swap)
        db.session.commit()
    reference = gen_concern(client)["reference"]
    assert guardians_wrapped_for(app, reference) == set()
    verified = runner.invoke(args=["speakup", "roster", "verify"])
    assert verified.exit_code == 1 and "deleted or rolled back" in verified.output
    key_file = tmp_path / "recovery.key"
    key_file.write_text(
        recovery.encode_recovery_file(app.config["TEST_RECOVERY_PRIVATE_KEY"], app.config["TEST_ROSTER_SIGNING_KEY"])
    )
    upgrade = runner.invoke(args=["speakup", "roster", "upgrade", "--recovery-key-file", str(key_file),
                                  "--approve", "gita@example.org"])  # fmt: skip
    assert upgrade.exit_code == 1 and "roster accept" in upgrade.output
    assert not grant_opens_with(app, gen_concern(client)["reference"], attacker.private_bytes)


def test_moving_an_account_to_the_pepper_never_hides_a_swapped_key(app):
    from speakup.crypto import password_keys
    from speakup.domain import staff

    gita = gen_staff(app, email="gita@example.org", name="Gita Guardian")
    with app.app_context():  # sealed as before the pepper, then a database writer swaps the public key
        user = get_row(User, gita.id)
        unlocked = account_keys.unlock_account(user, PASSWORD)
        old = account_keys.password_params_of(user)
        legacy = password_keys.PasswordParams(old.memory_kib, old.iterations, old.lanes, peppered=False)
        account_keys.seal_account(user, PASSWORD, legacy, unlocked.keys, unlocked.totp_secret)
        user.public_key = kem.generate_keypair().public_bytes
        db.session.commit()
    browser = app.test_client()
    answer = AuthActions(browser).sign_in(gita)
    assert answer.status_code == 303 and answer.location == "/guardian/sign-in"
    assert "Contact your Freedom to Speak Up lead" in browser.get(answer.location).get_data(as_text=True)
    with app.app_context():
        user = get_row(User, gita.id)
        assert not user.kdf_peppered  # not sealed again over the swap
        with pytest.raises(staff.KeysChanged):
            staff.change_password(user, PASSWORD, "another long enough password for this")


def test_odd_bytes_in_the_log_are_an_alarm_never_an_error_page(app, client):
    import json as json_module

    from speakup.keys import roster_log

    gita = gen_staff(app, email="gita@example.org", name="Gita Guardian")
    with app.app_context():  # a correctly chained entry dated with a time zone: the notice must still show
        roster_log.append("added", gita.id, {"at": "2030-01-01T00:00:00.000000+00:00"})
        db.session.commit()
    assert signed_in(app, gita).get("/guardian/").status_code == 200
    with app.app_context():  # a statement nested beyond the JSON parser's depth
        last = present(roster_log.head(), "roster head")
        statement = {"protocol": "speakup-v1", "context": "roster-log", "seq": last.seq + 1,
                     "prev": roster_log.entry_hash(last), "kind": "added", "user_id": gita.id}  # fmt: skip
        nested = json_module.dumps(statement)[:-1] + ',"x":' + "[" * 100000 + "]" * 100000 + "}"
        from speakup.platform.models import RosterEntry

        db.session.add(RosterEntry(seq=last.seq + 1, kind="added", user_id=gita.id, statement=nested.encode()))
        db.session.commit()
    reference = gen_concern(client)["reference"]
    assert guardians_wrapped_for(app, reference) == set()
    assert grant_opens_with(app, reference, app.config["TEST_RECOVERY_PRIVATE_KEY"], recipient="recovery")


def test_disabling_writes_its_entry_even_when_the_column_was_flipped_first(app, client):
    gen_staff(app, email="gita@example.org", name="Gita Guardian")
    bea = gen_staff(app, email="bea@example.org", name="Bea Guardian")
    admin_client = signed_in(app, gen_admin(app))
    with app.app_context():
        db.session.execute(update(User).where(User.id == bea.id).values(is_active=False))
        db.session.commit()
    post_form(admin_client, "/admin/", f"/admin/users/{bea.id}/disable")  # the administrator sees "disabled"
    with app.app_context():
        db.session.execute(update(User).where(User.id == bea.id).values(is_active=True))
        db.session.commit()
    assert bea.id not in guardians_wrapped_for(app, gen_concern(client)["reference"])


def test_an_anchor_never_moves_back(app):
    from speakup.keys import anchor

    with app.app_context():
        anchor.write_anchor("root", anchor.Anchor(7, "h7", "2026-12-07T10:00:00.000000Z", None, "c1"))
        anchor.write_anchor("root", anchor.Anchor(6, "h6", "2026-12-07T10:00:01.000000Z", None, "c1"))
        assert (
            present(anchor.read_anchor("root"), "anchor").seq == 7
        )  # a slower worker's older head is not written over it
        anchor.write_anchor("root", anchor.Anchor(3, "h3", "2026-12-07T10:00:02.000000Z", None, "c2"))
        assert (
            present(anchor.read_anchor("root"), "anchor").seq == 3
        )  # under a newer checkpoint (roster accept), it may


# --- Found by the outside review of one transaction per request (review 25) --------------------------------------


def _share_request_for_excluded(app, client):
    """Gita asks to share a concern with Bea, whom its reporter excluded; Cal holds it too. The request's row."""
    from speakup.platform.models import ShareRequest

    gita = gen_staff(app, email="gita@example.org", name="Gita Guardian")
    bea = gen_staff(app, email="bea@example.org", name="Bea Guardian")
    cal = gen_staff(app, email="cal@example.org", name="Cal Guardian")
    reference = gen_concern(client, exclude_guardian=str(bea.id))["reference"]
    gita_client = signed_in(app, gita)
    post_form(gita_client, f"/guardian/cases/{reference}", f"/guardian/cases/{reference}/share",
              share_with=str(bea.id), override_exclusion="yes")  # fmt: skip
    with app.app_context():
        row = db.session.scalar(select(ShareRequest))
        copy = {column.name: getattr(row, column.name) for column in ShareRequest.__table__.columns}
    return reference, gita_client, cal, bea, copy


def _put_back(app, copy) -> None:
    from speakup.platform.models import ShareRequest

    with app.app_context():
        db.session.execute(table_of(ShareRequest).insert().values(**copy))
        db.session.commit()


def test_a_withdrawn_share_request_put_back_by_a_database_writer_cannot_be_confirmed(app, client):
    """Review 25, F1: Gita withdrew her request; the row, copied before, was put back, and Cal alone confirmed it:
    the excluded guardian got the case, and the reporter was told two guardians had agreed."""
    reference, gita_client, cal, bea, copy = _share_request_for_excluded(app, client)
    uid = copy["uid"]
    cal_client = signed_in(app, cal)
    post_form(gita_client, f"/guardian/cases/{reference}", f"/guardian/cases/{reference}/share-requests/{uid}/cancel")
    _put_back(app, copy)
    post_form(cal_client, f"/guardian/cases/{reference}", f"/guardian/cases/{reference}/share-requests/{uid}/confirm")
    assert bea.id not in guardians_wrapped_for(app, reference)
    page = cal_client.get(f"/guardian/cases/{reference}").get_data(as_text=True)
    assert "Confirm sharing" not in page  # a withdrawn request is not offered either


def test_a_share_request_older_than_its_life_cannot_be_confirmed_even_with_its_date_changed(app, client, frozen_clock):
    from datetime import timedelta

    from speakup.domain import sharing
    from speakup.platform.models import ShareRequest

    reference, _gita_client, cal, bea, copy = _share_request_for_excluded(app, client)
    frozen_clock.advance(timedelta(days=sharing.REQUEST_DAYS, minutes=1))
    cal_client = signed_in(app, cal)
    with app.app_context():  # the database writer makes it look new
        db.session.execute(update(ShareRequest).values(created_at=frozen_clock.utcnow()))
        db.session.commit()
    uid = copy["uid"]
    post_form(cal_client, f"/guardian/cases/{reference}", f"/guardian/cases/{reference}/share-requests/{uid}/confirm")
    assert bea.id not in guardians_wrapped_for(app, reference)


# --- Found by the second outside review of issue 24 (finding 4) ---------------------------------------------------


def test_a_reference_swapped_in_the_database_never_opens_the_other_case_under_it(app, client):
    """A database writer swapped two cases' references: Find (or the case page) opened the other case under the
    reference a caller gave. The reference is sealed with the concern and checked whenever it is opened."""
    gita = gen_staff(app, email="gita@example.org", name="Gita Guardian")
    first = gen_concern(client, what_happened="The first concern, about the pharmacy.")
    second = gen_concern(client, what_happened="The second concern, about the theatre list.")
    with app.app_context():
        a = scalar(select(Case).where(Case.reference == first["reference"]))
        b = scalar(select(Case).where(Case.reference == second["reference"]))
        a_id, b_id = a.id, b.id
        for case_id, reference in ((a_id, "SU-SWAPPING"), (b_id, first["reference"]), (a_id, second["reference"])):
            db.session.execute(update(Case).where(Case.id == case_id).values(reference=reference))
        db.session.commit()
    browser = signed_in(app, gita)
    found = post_form(browser, "/guardian/", "/guardian/find", reference=first["reference"])
    assert found.location == f"/guardian/cases/{b_id}"  # Find goes by the reference column, as it must
    page = browser.get(found.location)
    assert page.status_code == 500 and "theatre list" not in page.get_data(as_text=True)
    assert "pharmacy" not in browser.get(f"/guardian/cases/{a_id}").get_data(as_text=True)
    reporter = client.get("/api/v1/follow-up", headers={"Authorization": f"Bearer {second['access_code']}"})
    assert reporter.status_code == 500 and "theatre" not in reporter.get_data(as_text=True)
