"""Sharing a case, sharing every case, the reporter's exclusion of a guardian, and recovery with the offline key.

What each test proves is about keys, not screens: a guardian opens a case only through a grant wrapped for their
own key, so besides the status codes the tests look at the grant rows themselves.
"""

from __future__ import annotations

import html

import pytest
from sqlalchemy import delete, func, select
from support.factories import Enrolled, Staff, enrol, gen_admin, gen_concern, gen_staff, organisation_secrets
from support.html import REFERENCE_RE, AuthActions, case_address, post_form, send_raise_form, signed_in
from support.present import get_row, scalar

from speakup.crypto import kem, sealing
from speakup.keys import account_keys, exclusions, grants, recovery
from speakup.ops import audit
from speakup.platform.models import AuditEvent, Case, CaseExclusion, CaseGrant, ShareRequest, User, db

# --- Helpers -------------------------------------------------------------------------------------


def _case_url(reference: str) -> str:
    """A case's address by its reference, as one typed or bookmarked before: the page still answers there."""
    return f"/guardian/cases/{reference}"


def _case(app, reference: str) -> tuple[int, int]:
    """The case's id and how many guardian grants it has."""
    with app.app_context():
        case_id = db.session.scalar(select(Case.id).where(Case.reference == reference))
        assert case_id is not None
        count = scalar(
            select(func.count(CaseGrant.id)).where(CaseGrant.case_id == case_id, CaseGrant.recipient == "guardian")
        )
        return case_id, count


def _holds(app, reference: str, staff: Staff) -> bool:
    with app.app_context():
        case_id = scalar(select(Case.id).where(Case.reference == reference))
        return grants.holds_grant(case_id, staff.id)


def _grant_rows(app) -> list[tuple]:
    """Every grant row as it is stored, to show that a refused command changed nothing at all."""
    with app.app_context():
        rows = db.session.execute(
            select(CaseGrant.id, CaseGrant.case_id, CaseGrant.recipient, CaseGrant.user_id, CaseGrant.wrapped_key)
        ).all()
        return sorted(tuple(row) for row in rows)


def _guardian_grant_count(app, staff: Staff | None = None) -> int:
    with app.app_context():
        query = select(func.count(CaseGrant.id)).where(CaseGrant.recipient == "guardian")
        if staff is not None:
            query = query.where(CaseGrant.user_id == staff.id)
        return scalar(query)


def _audit_actions(app, action: str) -> list[dict]:
    with app.app_context():
        events = db.session.scalars(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)).all()
        return [
            {"actor_type": e.actor_type, "actor_id": e.actor_id, "case_id": e.case_id, **audit.detail_of(e)}
            for e in events
        ]


def _trail(app, reference: str) -> list[tuple[str, dict]]:
    case_id, _ = _case(app, reference)
    with app.app_context():
        return [(event.action, audit.detail_of(event)) for event in audit.case_trail(case_id)]


def _followed(client, response, to: str | None = None) -> str:
    """The page a form's 303 leads to, as the browser that sent it sees it (the redirect is checked to be one)."""
    assert response.status_code == 303, response.status_code
    if to is not None:
        assert response.location == to, response.location
    page = client.get(response.location)
    assert page.status_code == 200, page.status_code
    return page.get_data(as_text=True)


def _recovery_file(app, tmp_path):
    """This installation's recovery key file, as `flask speakup init` wrote it."""
    path = tmp_path / "recovery.key"
    secrets = organisation_secrets(app)
    path.write_text(recovery.encode_recovery_file(secrets.recovery_key, secrets.signing_key))
    return path


def _recover(runner, key_file, email: str):
    return runner.invoke(args=["speakup", "recover", "--recovery-key-file", str(key_file), "--to", email])


# --- 1. Sharing one case -------------------------------------------------------------------------


def test_sharing_one_case_lets_a_later_guardian_read_it(app, client):
    amir = gen_staff(app, email="amir@example.org", name="Amir Guardian")
    raised = gen_concern(client, what_happened="Staffing on ward 9 fell below safe levels")
    ref = raised["reference"]
    bea = gen_staff(app, email="bea@example.org", name="Bea Guardian")  # joined after the concern
    other = gen_concern(client, what_happened="A second concern, held by both")

    bea_client = signed_in(app, bea)
    before = bea_client.get(_case_url(ref))
    assert before.status_code == 403
    assert "Staffing on ward 9" not in before.get_data(as_text=True)
    assert ref not in bea_client.get("/guardian/").get_data(as_text=True)

    amir_client = signed_in(app, amir)
    page = amir_client.get(_case_url(ref)).get_data(as_text=True)
    assert f'<option value="{bea.id}">Bea Guardian (bea@example.org)</option>' in page  # offered as a choice
    response = post_form(amir_client, _case_url(ref), f"{_case_url(ref)}/share", share_with=str(bea.id))
    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"{case_address(app, ref)}#sharing")
    assert "Shared with Bea Guardian." in _followed(amir_client, response)

    after = bea_client.get(_case_url(ref))
    assert after.status_code == 200
    assert "Staffing on ward 9 fell below safe levels" in after.get_data(as_text=True)
    assert f'href="{case_address(app, ref)}">{ref}</a>' in bea_client.get("/guardian/").get_data(as_text=True)
    # Only that case was shared; Bea already held the second one from the start.
    assert _case(app, ref)[1] == 2
    assert _holds(app, other["reference"], bea)
    # The grant is wrapped for Bea's own key: her private key opens it, Amir's does not.
    with app.app_context():
        case = scalar(select(Case).where(Case.reference == ref))
        grant = scalar(select(CaseGrant).where(CaseGrant.case_id == case.id, CaseGrant.user_id == bea.id))
        bea_key = account_keys.unlock_account(get_row(User, bea.id), bea.password).private_key
        amir_key = account_keys.unlock_account(get_row(User, amir.id), amir.password).private_key
        assert len(kem.unwrap_case_key(grant.wrapped_key, bea_key, case.id)) == sealing.KEY_BYTES
        with pytest.raises(sealing.DecryptionError):
            kem.unwrap_case_key(grant.wrapped_key, amir_key, case.id)

    shared = [detail for action, detail in _trail(app, ref) if action == "case_shared"]
    assert shared == [{"guardian_id": bea.id, "reason": None}]
    with app.app_context():
        event = scalar(select(AuditEvent).where(AuditEvent.action == "case_shared"))
        assert (event.actor_type, event.actor_id) == ("guardian", amir.id)
    # The audit trail on the case page shows it to the case's guardians.
    assert "case shared" in bea_client.get(_case_url(ref)).get_data(as_text=True)


def test_sharing_needs_an_active_guardian_and_a_grant_of_ones_own(app, client):
    amir = gen_staff(app, email="amir@example.org", name="Amir Guardian")
    raised = gen_concern(client, what_happened="Held by Amir alone")
    ref = raised["reference"]
    admin = gen_admin(app)
    bea = gen_staff(app, email="bea@example.org", name="Bea Guardian")
    cal = gen_staff(app, email="cal@example.org", name="Cal Guardian")
    amir_client = signed_in(app, amir)

    for target in ("", "not-a-number", "999999", str(admin.id)):
        response = post_form(amir_client, _case_url(ref), f"{_case_url(ref)}/share", share_with=target)
        assert response.status_code == 303, target
        assert "Choose a guardian to share this case with" in _followed(amir_client, response)
    # An administrator is never offered as someone to share with.
    assert "Ada Admin" not in amir_client.get(_case_url(ref)).get_data(as_text=True)

    # A guardian who cannot open the case cannot hand it on either.
    bea_client = signed_in(app, bea)
    response = post_form(bea_client, "/guardian/", f"{_case_url(ref)}/share", share_with=str(cal.id))
    assert response.status_code == 403
    assert _case(app, ref)[1] == 1
    assert _audit_actions(app, "case_shared") == []
    with app.app_context():
        assert db.session.scalar(select(func.count(CaseGrant.id)).where(CaseGrant.user_id == admin.id)) == 0


@pytest.mark.parametrize("target", ["²", "99999999999999999999"])
def test_sharing_with_a_malformed_guardian_id_is_a_form_error(app, client, target):
    amir = gen_staff(app, email="amir@example.org", name="Amir Guardian")
    ref = gen_concern(client)["reference"]
    amir_client = signed_in(app, amir)
    response = post_form(amir_client, _case_url(ref), f"{_case_url(ref)}/share", share_with=target)
    assert "Choose a guardian to share this case with" in _followed(
        amir_client, response, f"{case_address(app, ref)}#sharing"
    )


def test_sharing_with_someone_who_already_holds_the_case_records_no_share(app, client):
    amir = gen_staff(app, email="amir@example.org", name="Amir Guardian")
    bea = gen_staff(app, email="bea@example.org", name="Bea Guardian")
    ref = gen_concern(client, what_happened="Both guardians hold this")["reference"]
    amir_client = signed_in(app, amir)
    response = post_form(amir_client, _case_url(ref), f"{_case_url(ref)}/share", share_with=str(bea.id))
    # A stale form: the select no longer offers Bea.
    assert "Bea Guardian can already open this case" in _followed(amir_client, response)
    assert _case(app, ref)[1] == 2  # no second grant for Bea
    assert [action for action, _ in _trail(app, ref) if action == "case_shared"] == []


# --- 2. Sharing every case -----------------------------------------------------------------------


def test_share_all_gives_a_new_guardian_every_case_the_sharer_holds(app, client):
    amir = gen_staff(app, email="amir@example.org", name="Amir Guardian")
    texts = ["First: a locked fire door", "Second: rota pressure", "Third: unsafe lifting"]
    refs = [gen_concern(client, what_happened=text)["reference"] for text in texts]
    bea = gen_staff(app, email="bea@example.org", name="Bea Guardian")
    held_by_both = gen_concern(client, what_happened="Fourth: raised after Bea joined")["reference"]

    bea_client = signed_in(app, bea)
    for ref in refs:
        assert bea_client.get(_case_url(ref)).status_code == 403

    amir_client = signed_in(app, amir)
    form = amir_client.get("/guardian/share").get_data(as_text=True)
    assert f'<option value="{bea.id}">Bea Guardian (bea@example.org)</option>' in form
    assert f'<option value="{amir.id}">' not in form  # not with oneself
    response = post_form(amir_client, "/guardian/share", share_with=str(bea.id))
    assert "Bea Guardian" not in response.get_data(as_text=True)  # the result is on the page after the redirect
    page = _followed(amir_client, response, "/guardian/share")
    assert "Bea Guardian can now open 3 more cases." in page
    assert "They already held 1." in page
    assert "not shared because" not in page

    for ref, text in zip(refs, texts, strict=True):
        response = bea_client.get(_case_url(ref))
        assert response.status_code == 200
        assert text in response.get_data(as_text=True)
    assert bea_client.get(_case_url(held_by_both)).status_code == 200
    assert _guardian_grant_count(app, bea) == 4
    assert _guardian_grant_count(app, amir) == 4
    assert _audit_actions(app, "case_shared") == [
        {"actor_type": "guardian", "actor_id": amir.id, "case_id": None, "guardian_id": bea.id, "count": 3}
    ]

    # Again: nothing new to share, and the page says so in numbers.
    again = _followed(amir_client, post_form(amir_client, "/guardian/share", share_with=str(bea.id)))
    assert "Bea Guardian can now open 0 more cases." in again and "They already held 4." in again
    assert _guardian_grant_count(app, bea) == 4


def test_share_all_refuses_an_unknown_or_inactive_guardian(app, client):
    amir = gen_staff(app, email="amir@example.org", name="Amir Guardian")
    gen_concern(client)
    admin = gen_admin(app)
    amir_client = signed_in(app, amir)
    for target in ("", "999999", str(admin.id), str(amir.id)):
        response = post_form(amir_client, "/guardian/share", share_with=target)
        assert response.status_code == 303, target
        page = _followed(amir_client, response, "/guardian/share")
        assert "Choose a guardian to share your cases with" in page
        assert "can now open" not in page
    assert _guardian_grant_count(app) == 1


# --- 3. A guardian the reporter keeps out --------------------------------------------------------


def _raise_with_form(client, **fields: str):
    data = {"what_happened": "A concern about a guardian", "anonymity": "anonymous", **fields}
    return send_raise_form(client, **data)


def _reference_of(response) -> str:
    match = REFERENCE_RE.search(response.get_data(as_text=True))
    assert match, response.get_data(as_text=True)
    return match.group(1)


@pytest.mark.parametrize("via", ["form", "api"])
def test_an_excluded_guardian_never_receives_the_concern(app, client, runner, tmp_path, via):
    amir = gen_staff(app, email="amir@example.org", name="Amir Guardian")
    bea = gen_staff(app, email="bea@example.org", name="Bea Guardian")
    marker = "Bea Guardian shouted at a junior colleague"
    if via == "form":
        form = client.get("/raise").get_data(as_text=True)
        assert 'name="exclude_guardian"' in form
        assert f'<option value="{bea.id}">Bea Guardian</option>' in form
        response = _raise_with_form(client, what_happened=marker, exclude_guardian=str(bea.id))
        assert response.status_code == 200
        ref = _reference_of(response)
    else:
        options = client.get("/api/v1/options").get_json()
        assert {"id": str(bea.id), "name": "Bea Guardian"} in options["guardians"]
        assert {"id": str(amir.id), "name": "Amir Guardian"} in options["guardians"]
        chosen = next(g["id"] for g in options["guardians"] if g["name"] == "Bea Guardian")
        ref = gen_concern(client, what_happened=marker, exclude_guardian=chosen)["reference"]
    normal = gen_concern(client, what_happened="An ordinary concern")["reference"]

    # No grant at all for Bea; Amir holds it; the exclusion is recorded, sealed under the case key: no plain row
    # tells a database reader which guardian the concern is about.
    case_id, guardian_grants = _case(app, ref)
    assert guardian_grants == 1
    assert _holds(app, ref, amir) and not _holds(app, ref, bea)
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(CaseExclusion)) == 0
        case = get_row(Case, case_id)
        assert case.exclusions_ct is not None
        amir_private = account_keys.unlock_account(get_row(User, amir.id), amir.password).private_key
        amir_key = grants.guardian_case_key(case, amir.id, amir_private)
        assert exclusions.excluded_ids(case, amir_key) == {bea.id}

    bea_client = signed_in(app, bea)
    response = bea_client.get(_case_url(ref))
    assert response.status_code == 403
    assert marker not in response.get_data(as_text=True)
    queue = bea_client.get("/guardian/").get_data(as_text=True)
    assert ref not in queue and normal in queue

    # Share-all from Amir skips it, and counts it as excluded.
    amir_client = signed_in(app, amir)
    page = _followed(amir_client, post_form(amir_client, "/guardian/share", share_with=str(bea.id)))
    assert "Bea Guardian can now open 0 more cases." in page
    assert "They already held 1." in page
    assert "1 case was not shared because the person who raised it asked for Bea Guardian not to see it." in page
    assert not _holds(app, ref, bea)

    # The recovery key skips it too.
    result = _recover(runner, _recovery_file(app, tmp_path), "bea@example.org")
    assert result.exit_code == 0, result.output
    assert "can now open 0 more cases (1 already held, 1 left out because the reporter excluded them)" in result.output
    assert not _holds(app, ref, bea)
    assert bea_client.get(_case_url(ref)).status_code == 403

    # Sharing that one case with Bea: a warning and a box to tick, and nothing granted.
    grants_before = _grant_rows(app)
    case_page = amir_client.get(_case_url(ref)).get_data(as_text=True)
    assert f'<option value="{bea.id}">Bea Guardian (bea@example.org)</option>' in case_page
    assert 'id="override_exclusion"' not in case_page  # no box until the warning is shown
    response = post_form(amir_client, _case_url(ref), f"{_case_url(ref)}/share", share_with=str(bea.id))
    assert "Bea Guardian" not in response.get_data(as_text=True)  # the warning is on the page after the redirect
    page = _followed(amir_client, response, f"{case_address(app, ref)}#sharing")
    assert html.escape("The person who raised this concern asked for Bea Guardian not to see it.") in page
    assert "tick the box: a second guardian will need to confirm" in page
    assert 'id="share_with-error"' in page
    assert '<input class="nhsuk-checkboxes__input" id="override_exclusion" name="override_exclusion"' in page
    assert f'<option value="{bea.id}" selected>' in page
    assert _grant_rows(app) == grants_before
    assert [action for action, _ in _trail(app, ref) if action == "case_shared"] == []

    # With the box ticked it is only a request: nothing is shared until a second guardian confirms.
    response = post_form(
        amir_client, _case_url(ref), f"{_case_url(ref)}/share", share_with=str(bea.id), override_exclusion="yes"
    )
    assert response.status_code == 303
    assert not _holds(app, ref, bea)
    page = amir_client.get(_case_url(ref)).get_data(as_text=True)
    assert "asked on" in page and "to share this case with <strong>Bea Guardian</strong>" in page
    assert "Confirm sharing" not in page  # not by the guardian who asked
    with app.app_context():
        request_row = scalar(select(ShareRequest))
        # Who it would go to is only in the sealed column (a plain search of its bytes would match by chance).
        assert request_row.requested_by_id == amir.id
        assert {c.name for c in ShareRequest.__table__.columns} == {
            "id",
            "uid",
            "case_id",
            "requested_by_id",
            "target_ct",
            "created_at",
        }
    uid = request_row.uid
    confirm = f"{_case_url(ref)}/share-requests/{uid}/confirm"
    refused = post_form(amir_client, _case_url(ref), confirm)
    assert "A second guardian must confirm" in _followed(amir_client, refused, f"{case_address(app, ref)}#sharing")
    assert post_form(bea_client, "/guardian/", confirm).status_code == 403  # Bea cannot open the case at all
    assert not _holds(app, ref, bea)

    # Cal, who holds the case too, confirms: now Bea holds it, the reporter is told, and the audit records it
    # without naming Bea.
    cal = gen_staff(app, email="cal@example.org", name="Cal Guardian")
    post_form(amir_client, _case_url(ref), f"{_case_url(ref)}/share", share_with=str(cal.id))
    cal_client = signed_in(app, cal)
    assert "Confirm sharing" in cal_client.get(_case_url(ref)).get_data(as_text=True)
    assert post_form(cal_client, _case_url(ref), confirm).status_code == 303
    assert _holds(app, ref, bea)
    response = bea_client.get(_case_url(ref))
    assert response.status_code == 200 and marker in response.get_data(as_text=True)
    with app.app_context():
        shared = db.session.scalars(
            select(AuditEvent).where(AuditEvent.case_id == case_id, AuditEvent.action == "case_shared")
        ).all()
        override = [
            (audit.detail_of(e), e.actor_id)
            for e in shared
            if "overridden" in str(audit.detail_of(e).get("reason") or "")
        ]
    # Named by the request's random id (so a withdrawn request put back is never confirmed), never by Bea's.
    assert override == [({"reason": "reporter's exclusion overridden, confirmed by a second guardian", "request": uid},
                         cal.id)]  # fmt: skip
    assert [action for action, _ in _trail(app, ref) if action == "share_requested"] == ["share_requested"]
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(ShareRequest)) == 0
    # The reporter's timeline (shown to guardians as "Timeline the person who raised this sees") says so.
    assert "Shared with the guardian you asked to keep out of it" in bea_client.get(_case_url(ref)).get_data(
        as_text=True
    )


@pytest.mark.parametrize(
    "value",
    [
        "999999",
        "not-a-number",
        "admin",
        "-1",
        " ",
        "²",
    ],
)
def test_an_unknown_guardian_to_exclude_is_refused(app, client, value):
    amir = gen_staff(app, email="amir@example.org", name="Amir Guardian")
    admin = gen_admin(app)
    choice = str(admin.id) if value == "admin" else value
    message = "Choose a guardian from the list, or leave it empty"

    response = client.post(
        "/api/v1/concerns",
        json={"what_happened": "Excluding a non-guardian", "anonymity": "anonymous", "exclude_guardian": choice},
    )
    if value == " ":  # blank means nobody is excluded
        assert response.status_code == 201
        assert _case(app, response.get_json()["reference"])[1] == 1
        return
    assert response.status_code == 422
    assert response.get_json()["error"]["fields"] == {"exclude_guardian": message}

    response = _raise_with_form(client, what_happened="My words stay in the form", exclude_guardian=choice)
    page = response.get_data(as_text=True)
    # Answered with a redirect back to the form, which shows the message and the words kept; the POST's own
    # answer carries neither.
    assert [step.status_code for step in response.history] == [303]
    assert response.status_code == 200 and response.request.path == "/raise"
    posted = response.history[0].get_data(as_text=True)
    echoed = message in posted, "My words stay in the form" in posted
    assert echoed == (False, False), echoed
    assert f'id="exclude_guardian-error"><span class="nhsuk-u-visually-hidden">Error:</span> {message}' in page
    assert "My words stay in the form" in page
    with app.app_context():
        assert db.session.scalar(select(func.count(Case.id))) == 0
    assert _guardian_grant_count(app, amir) == 0


# --- 4. Recovery after every guardian lost their password -----------------------------------------


def _reset_on_admin_page(app, admin_client, staff: Staff, password: str) -> Enrolled:
    """Resets an account on the admin page and follows the one-time link it shows, as its owner."""
    url = f"/admin/users/{staff.id}/reset-password"
    response = post_form(admin_client, url)
    assert 'id="enrolment-link"' not in response.get_data(as_text=True)  # shown only after the redirect
    page = _followed(admin_client, response, "/admin/enrolment-link")
    return enrol(app, page, password=password)


def test_recovery_after_every_guardian_lost_their_password(app, client, runner, tmp_path):
    amir = gen_staff(app, email="amir@example.org", name="Amir Guardian")
    bea = gen_staff(app, email="bea@example.org", name="Bea Guardian")
    admin = gen_admin(app)
    texts = [f"Concern number {n}: something unsafe on ward {n}" for n in range(1, 5)]
    refs = [gen_concern(client, what_happened=text)["reference"] for text in texts]
    assert _guardian_grant_count(app) == 8

    old_amir_client = signed_in(app, amir)
    assert old_amir_client.get(_case_url(refs[0])).status_code == 200

    # Both forget their passwords: each gets a new enrolment link and makes new keys and secrets.
    admin_client = signed_in(app, admin)
    amir_enrolled = _reset_on_admin_page(app, admin_client, amir, "a fresh passphrase for amir")
    bea_enrolled = _reset_on_admin_page(app, admin_client, bea, "a fresh passphrase for bea")
    new_amir, new_bea = amir_enrolled.staff, bea_enrolled.staff
    assert new_amir.totp_secret != amir.totp_secret and new_bea.totp_secret != bea.totp_secret

    # Their old grants are gone (their old keys are lost), and so is Amir's old session.
    assert _guardian_grant_count(app) == 0
    assert old_amir_client.get(_case_url(refs[0])).status_code == 302
    old_password = app.test_client()  # the old password is gone too
    assert "Enter a correct email address" in _followed(
        old_password, AuthActions(old_password).sign_in(amir), "/guardian/sign-in"
    )
    assert old_password.get("/guardian/").status_code == 302

    amir_client = signed_in(app, new_amir)
    bea_client = signed_in(app, new_bea)
    for ref, text in zip(refs, texts, strict=True):
        for guardian_client in (amir_client, bea_client):
            response = guardian_client.get(_case_url(ref))
            assert response.status_code == 403
            assert text not in response.get_data(as_text=True)
    assert "<table" not in amir_client.get("/guardian/").get_data(as_text=True)

    # Both are pending again and no approved guardian is left, so recovery to Amir is refused until the
    # organisation key approves him (after comparing his safety code).
    key_file = _recovery_file(app, tmp_path)
    refused = _recover(runner, key_file, "amir@example.org")
    assert refused.exit_code == 1 and "is not on the verified roster" in refused.output
    assert _guardian_grant_count(app) == 0
    approved = runner.invoke(
        args=["speakup", "approve", "--email", "amir@example.org", "--recovery-key-file", str(key_file),
              "--safety-code", amir_enrolled.safety_code]
    )  # fmt: skip
    assert approved.exit_code == 0, approved.output

    result = _recover(runner, key_file, "AMIR@example.org")
    assert result.exit_code == 0, result.output
    assert "amir@example.org can now open 4 more cases (0 already held, 0 left out" in result.output

    # The session Amir started before the recovery now opens every case.
    for ref, text in zip(refs, texts, strict=True):
        response = amir_client.get(_case_url(ref))
        assert response.status_code == 200
        assert text in response.get_data(as_text=True)
    # And so does a fresh sign-in with the new password and the new security-code secret.
    AuthActions(amir_client).sign_out()
    assert AuthActions(amir_client).sign_in(new_amir).status_code == 303
    queue = amir_client.get("/guardian/").get_data(as_text=True)
    for ref, text in zip(refs, texts, strict=True):
        assert f'href="{case_address(app, ref)}">{ref}</a>' in queue
        assert text in amir_client.get(_case_url(ref)).get_data(as_text=True)
    # Recovery went to Amir only; Bea waits for Amir to approve her and share, or for another recovery.
    assert _guardian_grant_count(app, new_amir) == 4
    assert _guardian_grant_count(app, new_bea) == 0
    assert bea_client.get(_case_url(refs[0])).status_code == 403

    assert _audit_actions(app, "recovery") == [
        {"actor_type": "system", "actor_id": None, "case_id": None, "guardian_id": amir.id, "count": 4}
    ]
    resets = _audit_actions(app, "password_reset")
    assert sorted((event["email"], event["count"]) for event in resets) == [
        ("amir@example.org", 4),
        ("bea@example.org", 4),
    ]

    # Then Amir approves Bea with her safety code and shares with her the usual way.
    approved = post_form(
        amir_client, "/guardian/team", f"/guardian/team/{bea.id}/approve", safety_code=bea_enrolled.safety_code_shown
    )
    assert "Bea Guardian is approved." in _followed(amir_client, approved, "/guardian/team")
    page = _followed(amir_client, post_form(amir_client, "/guardian/share", share_with=str(bea.id)))
    assert "Bea Guardian can now open 4 more cases." in page
    assert texts[2] in bea_client.get(_case_url(refs[2])).get_data(as_text=True)


def test_recovery_grants_only_what_is_missing(app, client, runner, tmp_path):
    gen_staff(app, email="amir@example.org", name="Amir Guardian")
    first = gen_concern(client, what_happened="Before Bea joined")["reference"]
    bea = gen_staff(app, email="bea@example.org", name="Bea Guardian")
    second = gen_concern(client, what_happened="After Bea joined")["reference"]
    result = _recover(runner, _recovery_file(app, tmp_path), bea.email)
    assert result.exit_code == 0, result.output
    assert "can now open 1 more cases (1 already held, 0 left out" in result.output
    assert _holds(app, first, bea) and _holds(app, second, bea)
    assert _guardian_grant_count(app, bea) == 2
    # Running it again changes nothing.
    again = _recover(runner, _recovery_file(app, tmp_path), bea.email)
    assert "can now open 0 more cases (2 already held" in again.output
    assert _guardian_grant_count(app, bea) == 2


# --- 5. A wrong recovery key file, or the wrong person ---------------------------------------------


@pytest.mark.parametrize("kind", ["another-installation", "garbled", "truncated", "empty", "not-text", "no-footer"])
def test_a_wrong_recovery_key_file_is_refused_and_changes_nothing(app, client, runner, tmp_path, kind):
    gen_staff(app, email="amir@example.org", name="Amir Guardian")
    gen_concern(client, what_happened="Raised before Bea joined")
    bea = gen_staff(app, email="bea@example.org", name="Bea Guardian")
    gen_concern(client)
    key_file = tmp_path / "recovery.key"
    with app.app_context():
        real = recovery.encode_recovery_file(app.config["TEST_RECOVERY_PRIVATE_KEY"])
        if kind == "another-installation":
            key_file.write_text(recovery.encode_recovery_file(kem.generate_keypair().private_bytes))
        elif kind == "garbled":
            lines = real.splitlines()
            lines[4] = "!!" + lines[4][2:]  # the first line of the key itself
            key_file.write_text("\n".join(lines))
        elif kind == "truncated":
            lines = real.splitlines()
            key_file.write_text("\n".join([*lines[:4], lines[4][:40], lines[-1]]))
        elif kind == "empty":
            key_file.write_text("")
        elif kind == "not-text":
            key_file.write_bytes(b"\xff\xfe\x00binary\x80")
        else:
            key_file.write_text("\n".join(real.splitlines()[:-2]))
    before = _grant_rows(app)

    result = _recover(runner, key_file, bea.email)
    assert result.exit_code == 1, result.output
    assert "That is not this installation's recovery key" in result.output
    assert "nothing changed" in result.output
    expected = {
        "another-installation": "belongs to another installation",
        "garbled": "damaged",
        "truncated": "damaged",
        "empty": "not a Speak Up recovery key file",
        "no-footer": "not a Speak Up recovery key file",
    }.get(kind)
    if expected:
        assert expected in result.output
    assert "Traceback" not in result.output
    assert _grant_rows(app) == before
    assert _audit_actions(app, "recovery") == []


def test_a_recovery_key_file_that_does_not_exist_is_refused(app, runner, tmp_path):
    guardian = gen_staff(app)
    before = _grant_rows(app)
    result = _recover(runner, tmp_path / "missing.key", guardian.email)
    assert result.exit_code != 0
    assert "does not exist" in result.output
    assert _grant_rows(app) == before


@pytest.mark.parametrize("who", ["unknown", "admin", "disabled"])
def test_recovery_only_goes_to_an_active_guardian(app, client, runner, tmp_path, who):
    gen_staff(app, email="amir@example.org", name="Amir Guardian")
    gen_concern(client)
    gen_admin(app)
    bea = gen_staff(app, email="bea@example.org", name="Bea Guardian")
    if who == "disabled":
        with app.app_context():
            get_row(User, bea.id).is_active = False
            db.session.commit()
    email = {"unknown": "nobody@example.org", "admin": "admin@example.org", "disabled": bea.email}[who]
    before = _grant_rows(app)
    result = _recover(runner, _recovery_file(app, tmp_path), email)
    assert result.exit_code == 1, result.output
    assert f"{email} is not an active guardian's account; nothing changed." in result.output
    assert _grant_rows(app) == before
    assert _audit_actions(app, "recovery") == []


def test_exclusions_stored_as_plain_rows_are_honoured_and_sealed_with_the_recovery_key(app, client, runner, tmp_path):
    """A database from before exclusions were sealed: its plain rows still keep the guardian out, and
    `speakup exclusions seal` moves them under each case key."""
    amir = gen_staff(app, email="amir@example.org", name="Amir Guardian")
    bea = gen_staff(app, email="bea@example.org", name="Bea Guardian")
    ref = gen_concern(client, what_happened="About Bea, the old way")["reference"]
    case_id, _ = _case(app, ref)
    with app.app_context():
        db.session.execute(delete(CaseGrant).where(CaseGrant.case_id == case_id, CaseGrant.user_id == bea.id))
        db.session.add(CaseExclusion(case_id=case_id, user_id=bea.id))
        db.session.commit()
    amir_client = signed_in(app, amir)
    refused = post_form(amir_client, _case_url(ref), f"{_case_url(ref)}/share", share_with=str(bea.id))
    assert "asked for Bea Guardian not to see it" in _followed(
        amir_client, refused, f"{case_address(app, ref)}#sharing"
    )
    result = runner.invoke(
        args=["speakup", "exclusions", "seal", "--recovery-key-file", str(_recovery_file(app, tmp_path))]
    )
    assert result.exit_code == 0 and "Sealed the exclusions of 1 cases" in result.output
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(CaseExclusion)) == 0
        assert get_row(Case, case_id).exclusions_ct is not None
    again = post_form(amir_client, _case_url(ref), f"{_case_url(ref)}/share", share_with=str(bea.id))
    assert "asked for Bea Guardian not to see it" in _followed(amir_client, again, f"{case_address(app, ref)}#sharing")
    assert not _holds(app, ref, bea)
